"""Shared fixtures: tiny real-format corpora typed in from classical texts, built in tmp dirs."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from couplet.sample import (COUPLETS, PINGSHUIYUN, POEMS, STRAINS, write_couplets,  # noqa: F401 (tests use them)
                            write_pingshuiyun, write_poetry_dir, write_tarball)

torch.set_num_threads(1)  # tiny models: threads only add overhead (and contention on shared CI cores)


@pytest.fixture(scope="session")
def corpora(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("corpora")
    return {
        "tgz": write_tarball(root / "chinese-poetry-test.tgz"),
        "npm_dir": write_poetry_dir(root / "npm", "npm"),
        "github_dir": write_poetry_dir(root / "github", "github"),
        "couplets": write_couplets(root / "couplets"),
        "pingshuiyun": write_pingshuiyun(root / "origin.txt"),
    }


@pytest.fixture(scope="session")
def prepared(corpora, tmp_path_factory) -> Path:
    from couplet.corpus import prepare
    out = tmp_path_factory.mktemp("processed")
    prepare(poetry=corpora["tgz"], couplets=[corpora["couplets"]], pingshuiyun=corpora["pingshuiyun"],
            out_dir=out)
    return out


@pytest.fixture(scope="session")
def fixture_vocab(prepared):
    from collections import Counter

    from couplet.corpus import read_pairs
    from couplet.vocab import Vocab
    counts = Counter()
    for split in ("train", "valid", "test"):
        for p in read_pairs(prepared / f"{split}.tsv"):
            counts.update(p.upper + p.lower)
    return Vocab.build(counts)


@pytest.fixture(scope="session")
def tiny_generator(prepared, fixture_vocab):
    """An untrained tiny model over the fixture vocabulary: rules must hold whatever it predicts."""
    from couplet.generate import CoupletGenerator
    from couplet.model import CoupletModel, ModelConfig
    from couplet.prosody import Prosody
    torch.manual_seed(0)
    model = CoupletModel(ModelConfig(vocab_size=len(fixture_vocab), emb_dim=16, hidden=16, dropout=0.0))
    return CoupletGenerator(model, fixture_vocab, Prosody.load(prepared / "prosody.json"))


@pytest.fixture(scope="session")
def tiny_poet(prepared, fixture_vocab):
    """An untrained tiny poem model over the fixture vocabulary: the form rules must hold anyway."""
    from couplet.model import PoemConfig, PoemModel
    from couplet.poetry import PoemGenerator, load_corpus_lines
    from couplet.prosody import Prosody
    torch.manual_seed(0)
    model = PoemModel(PoemConfig(vocab_size=len(fixture_vocab), emb_dim=16, hidden=16, dropout=0.0))
    return PoemGenerator(model, fixture_vocab, Prosody.load(prepared / "prosody.json"),
                         corpus_lines=load_corpus_lines(prepared / "poems.jsonl"))


@pytest.fixture(scope="session")
def tiny_whole(prepared, fixture_vocab, tiny_generator):
    """An untrained whole-couplet model (its 下联 by tiny_generator): every hard rule must hold anyway."""
    from couplet.model import PoemConfig, PoemModel
    from couplet.vocab import Vocab
    from couplet.whole import WholeGenerator
    from couplet.wholetext import SPECIAL
    vocab = Vocab(fixture_vocab.chars() + list(SPECIAL))
    torch.manual_seed(0)
    model = PoemModel(PoemConfig(vocab_size=len(vocab), emb_dim=16, hidden=16, dropout=0.0))
    layouts = {"5": "5", "7": "7", "8": "4,4", "9": "4,5", "11": "4,7", "12": "5,7"}
    return WholeGenerator(model, vocab, tiny_generator, {"layouts": layouts})
