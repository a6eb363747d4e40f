"""Tally of a side-by-side whole-couplet reading (whole_reading.py --variants): mean scores per
decoding, how often each was kept, how many rated 3+ (mean of 对仗, 平仄, meaning, literary).

    python docs/judging/whole_variants_tally.py docs/judging/whole-temp-key.json PART1.answers.jsonl PART2.answers.jsonl
"""
import sys

from couplet_variants import tally  # the same tally, with theme fit as a fifth criterion

tally(sys.argv[1], sys.argv[2:], ["对仗", "平仄", "meaning", "literary", "theme"])
