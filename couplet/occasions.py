"""Occasions: a wish named by its everyday word read as the words its couplets are written with.

The whole-couplet model was trained with each couplet's own keywords as its seed, so it reads a seed
by its characters: `whole 结婚` wrote 结婚喜喜家家乐, and the 横批 nearest 新婚 were 婚育新风 and 新年新事. People
do not write 结婚 on a wedding couplet; they write 鸾凤, 同心, 良缘, 连理. This table is the one home of
that knowledge: for each occasion, the words a user types for it, the seeds (keyword pairs, at most
the model's 4 seed chars) its couplets are drawn from, each seed a share of the draws so a page's
couplets open in different ways, the 横批 people hang for it, and the keywords a poem for it is written from (the poem model's
seeds are classical words too: `poem 毕业` wrote 毕竟空余事业乖). Chosen by reading what each writes
(docs/judging/README.md); an empty field leaves that generator to read the words as typed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Occasion:
    name: str
    words: tuple[str, ...]   # a theme that holds one of these is this occasion
    seeds: tuple[str, ...]   # what the whole-couplet model is seeded with instead, a share of the draws each
    # the keywords a poem for it is written from: sets of them, one drawn per request (`poetry`), since
    # the model opens with its seed (南山寿酒… in 12 of 12 birthday poems)
    poem: tuple[tuple[str, ...], ...] = ()
    # the 横批 people hang for it, one chosen per couplet by how well it fits (`couplet.hengpi`): the
    # phrase table's nearest were lexical (金玉满堂 and 点石成金 for 金榜, 火树银花 for 银汉)
    hengpi: tuple[str, ...] = ()
    # its season (春夏秋冬), which its couplets keep to (`off_season`); its poems may name it as their seed
    # would (`poetry.OCCASION_SEASONS`, off: readers did not prefer it)
    season: str = ""
    # how a poem's title for it begins (七夕…, 及第后…), the title model writing the rest
    title: str = ""
    # a word typed beside its word that names a place of business (茶馆开业: a tea house; `subject_of`)
    # seeds its couplets instead of its own seeds, which wrote the same couplets for every shop
    subject: bool = False
    # the animal of the year a wish names (羊年, 2027: 羊; `year_of`), whose words its couplets may use
    year: str = ""
    # a happy occasion, whose poems and couplets leave out the chars of grief (`MOURNING`): 16% of the poems
    # for 春节, 生日, 乔迁, 高考 held one (一曲泪淋漓 for a birthday, 凄凉寂寞 on New Year's Eve)
    festive: bool = False

    def subject_of(self, words: list[str]) -> list[str]:
        """The words that name what it is for (茶馆, 火锅店, 健身房): those ending in a place (店, 馆, 楼…),
        not one of its own words (a wish such as 大吉 or 红火 is none)."""
        if not self.subject:
            return []
        return [w for w in words if len(w) >= 2 and w[-1] in PLACES and not any(o in w for o in self.words)]

    def beside(self, words: list[str]) -> list[str]:
        """The words of a wish beside those that name it, its year, its seeds or the wish itself (春节 平安:
        平安; 羊年 团圆: 团圆), which its seeds would leave out of its couplets; at most BESIDE, as typed."""
        def names(w: str) -> bool:   # or its seeds hold it already (开业 兴隆: 财源兴隆)
            return (any(o in w or w in o for o in self.words) or bool(year_of(w)) or any(c.isdigit() for c in w)
                    or w in WISH_WORDS or any(w in s for s in self.seeds))
        return [w for w in dict.fromkeys(words) if 2 <= len(w) <= 4 and not names(w)][:BESIDE]

    @property
    def off_season(self) -> str:
        """Chars of another season, which its couplets leave out while others are left: for autumn (重阳 and
        七夕 wrote 举目赏春 and 瑞雪迎春 in 28% and 50% of their couplets); spring has none (千秋 and 冬去春来
        are a 春联's words)."""
        return OFF_SEASON.get(self.season, "")

    @property
    def year_before(self) -> str:
        """The animal of the year before the one the wish names (马 for 羊): the old year a 春联 sees off."""
        return ZODIAC[ZODIAC.index(self.year) - 1] if self.year else ""

    @property
    def off_words(self) -> tuple[str, ...]:
        """Words of another occasion, which its couplets leave out while others are left: a year's
        (金猴, 辞岁) but at 春节, a wedding's (洞房花烛, the 下联 a couplet model writes to 金榜题名) but at a
        wedding or 七夕, another festival's name (端午龙舟惊世界 / 元宵萤火耀乾坤). When the wish names a
        year, another animal is off at 春节 too (猴岁, 猴棒 in a 羊年 couplet: the couplet model answers one
        animal with another), but the year it follows (骏马辞岁 / 金羊献瑞: the old year seen off) and the
        dragon, every year's emblem (龙腾盛世)."""
        festivals = tuple(w for name, names in FESTIVAL_NAMES.items() if name != self.name
                          and {name, self.name} != {"春节", "元宵"} for w in names)   # 春节 runs to 元宵
        if self.year:
            kept = {self.year, self.year_before} if self.name == "春节" else {self.year}
            years = tuple(w for a in ZODIAC if a not in kept for w in ANIMAL_WORDS[a])
            years += tuple(a for a in ZODIAC if a not in kept | {"龙"}) if self.name == "春节" else TURN_WORDS
        else:
            years = () if self.name == "春节" else YEAR_WORDS
        return years + (() if self.name in ("婚庆", "七夕") else WEDDING_WORDS) + festivals


# chars of grief and gloom, which a happy occasion's lines leave out as they are written (惆怅, 寂寞, 憔悴 whole:
# their chars are seldom anything else)
MOURNING = "泪涕哭泣悲哀愁恨伤死丧坟墓殡魂鬼凄惨惆怅寂寞憔悴"
# the words a wish is phrased with, not what its couplets say (新春快乐, 恭贺新禧, 写一副春联)
WISH_WORDS = ("快乐", "祝福", "祝贺", "恭贺", "恭喜", "祝愿", "对联", "春联", "横批", "上联", "下联", "一副", "新禧")
BESIDE = 2   # a 7-char line holds two such words at most beside its seed's

# autumn's: spring, summer and winter named, snow, plum blossom; summer's: winter and snow (春 and 秋 are
# 送春 and 千秋 in a 端午 couplet)
OFF_SEASON = {"秋": "春夏冬雪梅", "夏": "冬雪"}
# a year of the zodiac and the turn of the year: the 春联 of the couplet data put them everywhere
ZODIAC = "鼠牛虎兔龙蛇马羊猴鸡狗猪"          # 2020 was a 鼠 year
ANIMAL_WORDS = {a: (a + "年", a + "岁") + more for a, more in zip(ZODIAC, (
    ("金鼠",), ("金牛",), ("金虎",), ("玉兔",), ("金龙",), ("金蛇", "银蛇", "灵蛇"), ("金马",),
    ("金羊", "神羊", "三羊", "灵羊", "吉羊"), ("金猴", "灵猴", "神猴"), ("金鸡", "宝鸡"), ("金狗", "金犬"), ("金猪",)))}
# each animal as a 春联 names it, for a year's seeds: the old year seen off in the 上联, the new one greeted in
# the 下联 (骏马辞岁千家乐 / 吉羊迎春万户欢), as people's do (送马年… / 迎羊岁…) and the couplet model answers
ANIMAL_NAMES = dict(zip(ZODIAC, ("金鼠", "金牛", "金虎", "玉兔", "金龙", "金蛇", "骏马", "金羊", "金猴", "金鸡", "金犬", "金猪")))
# beside an animal, the words that make a phrase a year's 横批 (金猴贺岁, 骏马迎春, 三羊开泰; `year_named`), where
# 马到成功, 万马奔腾 and 闻鸡起舞 name no year
YEAR_PHRASE_WORDS = ("贺岁", "献瑞", "迎春", "辞岁", "报春", "闹春", "送福", "开泰", "启泰", "呈祥", "纳福", "报喜", "贺年")
TURN_WORDS = ("辞岁", "贺岁", "新岁", "旧岁", "旧年", "贺年", "拜年")
YEAR_WORDS = tuple(w for words in ANIMAL_WORDS.values() for w in words) + TURN_WORDS
# the 横批 of a year, from the 4-char phrases of the couplet data (三羊开泰 139 times, 金猴献瑞 33) and a few
# people hang that it lacks (鼠年大吉); a year's couplets choose among these and 春节's
YEAR_HENGPI = {"鼠": ("金鼠迎春", "鼠年大吉"), "牛": ("牛气冲天", "金牛献瑞", "金牛贺岁"),
               "虎": ("虎虎生威", "虎年大吉"), "兔": ("玉兔呈祥", "玉兔迎春", "玉兔报春"),
               "龙": ("龙腾盛世", "金龙献瑞", "巨龙腾飞", "金龙贺岁"), "蛇": ("金蛇狂舞", "灵蛇献瑞", "银蛇送福", "金蛇贺岁"),
               "马": ("马到成功", "骏马迎春", "万马奔腾", "一马当先"),
               "羊": ("三羊开泰", "吉羊开泰", "灵羊献瑞", "金羊献瑞", "喜气洋洋"),
               "猴": ("金猴献瑞", "金猴贺岁", "金猴送福"), "鸡": ("金鸡报晓", "雄鸡报晓", "金鸡报喜"),
               "狗": ("金犬迎春", "狗年大吉"), "猪": ("金猪贺岁", "金猪送福", "猪年大吉")}
WEDDING_WORDS = ("洞房", "花烛")
# the last char of a word that names a place of business (`Occasion.subject_of`)
PLACES = "店馆楼坊行铺院所厂司社堂阁轩斋庄园屋厅吧房场城市校室廊部"
# the names of the festivals (`off_words`); Christmas too, which is none of these occasions' (春节 平安, steered
# toward 平安, wrote 春回大地平安夜)
FESTIVAL_NAMES = {"春节": ("春节", "除夕"), "元宵": ("元宵", "上元"), "清明": ("清明", "寒食"), "端午": ("端午", "端阳"),
                  "七夕": ("七夕",), "中秋": ("中秋",), "重阳": ("重阳", "重九"), "圣诞": ("圣诞", "平安夜")}

OCCASIONS = (
    Occasion("婚庆", ("结婚", "新婚", "婚礼", "婚庆", "成婚", "完婚", "大婚", "婚宴", "订婚", "出嫁", "嫁女", "娶亲",
                      "迎娶", "新郎", "新娘", "洞房", "喜结良缘", "百年好合"),
             ("鸾凤同心", "良缘美满", "连理并蒂", "花烛良缘"),    # poems from 花烛 良缘 lost both readings
             hengpi=("百年好合", "永结同心", "喜结良缘", "天作之合", "鸾凤和鸣", "珠联璧合", "佳偶天成", "花好月圆"), festive=True),
    Occasion("开业", ("开业", "开张", "开店", "开市", "新店", "店铺", "商铺", "商店", "生意", "公司"),
             ("生意财源", "骏业宏图", "财源兴隆"),
             hengpi=("开业大吉", "生意兴隆", "财源广进", "大展宏图", "和气生财", "骏业宏开", "万事亨通", "宏图大展"),
             subject=True, festive=True),
    # a poem's title for it reads well without a start (南山生日); after 寿 the model wrote places (寿安道中, 寿春)
    Occasion("祝寿", ("祝寿", "寿辰", "寿宴", "大寿", "过寿", "做寿", "拜寿", "生日", "生辰", "寿星", "长寿"),
             ("福寿南山", "寿星福如"), (("南山", "寿酒"), ("松鹤", "称觞")),
             hengpi=("寿比南山", "福如东海", "福寿双全", "松鹤延年", "福寿康宁", "寿域宏开", "南山献寿"), festive=True),
    Occasion("乔迁", ("乔迁", "搬家", "搬新家", "新家", "新居", "新房", "新宅", "入宅", "入伙", "迁居", "安家"),
             ("新居吉宅", "华堂安居"), (("新居", "燕子"), ("卜居", "新堂")),
             hengpi=("乔迁之喜", "安居乐业", "福临吉宅", "莺迁乔木", "吉星高照", "华堂生辉", "新居大吉"), title="新居", festive=True),
    Occasion("升学", ("升学", "高考", "中考", "考上", "录取", "金榜", "题名", "状元", "考研"),
             ("鹏程学业", "金榜题名"), (("金榜", "登科"), ("杏园", "及第")),
             hengpi=("金榜题名", "前程似锦", "鹏程万里", "学业有成", "蟾宫折桂", "独占鳌头", "大展宏图"),
             # after 登科 alone the model wrote 登科第四十九, after 登科后 (杏园 poems) 登科后园亭宴红儿; 及第后 read 21-8
             title="及第后", festive=True),
    Occasion("春节", ("春节", "过年", "新春", "新年", "除夕", "拜年", "春联", "元旦"),
             ("迎春纳福", "辞旧迎新", "春回大地"), (("元日", "屠苏"),),
             hengpi=("万象更新", "春回大地", "辞旧迎新", "五福临门", "四季平安", "吉星高照", "国泰民安", "迎春接福"),
             season="春", title="元日", festive=True),
    Occasion("教师节", ("教师", "老师", "恩师", "谢师", "园丁"), ("桃李春风", "园丁桃李"),
             hengpi=("桃李满园", "桃李芬芳", "春风化雨", "师恩难忘", "诲人不倦", "尊师重教", "桃李天下"), festive=True),
    Occasion("七夕", ("七夕", "情人节", "鹊桥"), ("鹊桥银汉", "金风玉露"), (("鹊桥", "银汉"),),
             hengpi=("鹊桥相会", "金风玉露", "天作之合", "花好月圆", "情深似海", "佳期如梦", "心心相印"),
             season="秋", title="七夕"),
    Occasion("中秋", ("中秋", "八月十五", "赏月", "月饼"), ("金秋明月", "丹桂婵娟"),   # 中秋 is a poem's word already
             hengpi=("花好月圆", "人月两圆", "中秋佳节", "月圆人寿", "千里婵娟", "丹桂飘香", "举杯邀月"), season="秋"),
    Occasion("元宵", ("元宵", "上元", "灯节", "正月十五"), ("火树银花", "元宵灯火"),
             hengpi=("火树银花", "灯月交辉", "普天同庆", "元宵佳节", "花好月圆", "欢度元宵", "灯火辉煌"), season="春", festive=True),
    Occasion("端午", ("端午", "端阳", "龙舟", "粽子"), ("龙舟粽香", "艾叶菖蒲"),
             hengpi=("端午安康", "龙舟竞渡", "粽叶飘香", "艾叶飘香", "屈子千秋", "端阳佳节", "龙舟竞发"), season="夏"),
    Occasion("清明", ("清明", "扫墓", "祭祖", "上坟"), ("慎终追远", "缅怀先祖"),
             hengpi=("慎终追远", "缅怀先人", "饮水思源", "德泽长存", "春雨思亲", "永怀先德", "追远思亲"), season="春"),
    Occasion("劳动节", ("劳动节", "五一", "劳模"), ("勤劳致富", "劳动光荣"),
             hengpi=("劳动光荣", "勤劳致富", "劳动创造", "天道酬勤", "业精于勤", "自强不息", "勤劳为本"), festive=True),
    Occasion("重阳", ("重阳", "敬老", "老人节"), ("登高菊花",),   # 重阳 is a poem's word already
             hengpi=("登高望远", "福寿康宁", "重阳佳节", "人寿年丰", "秋高气爽", "松鹤延年", "敬老尊贤"),
             season="秋"),
    Occasion("添丁", ("添丁", "得子", "贵子", "弄璋", "弄瓦", "宝宝", "百日宴", "满月酒"), ("麒麟送子",),
             hengpi=("麒麟送子", "喜得贵子", "弄璋之喜", "天赐麟儿", "添丁进喜", "兰桂腾芳", "喜气盈门"), festive=True),
    # poems from 悼亡 泪 were kept once in four readings of a funeral seed: too mournful, the typed word reads better
    Occasion("挽联", ("挽联", "悼念", "逝世", "去世", "追悼", "缅怀", "哀悼", "祭奠"), ("德泽长存", "英名千古"),
             hengpi=("浩气长存", "音容宛在", "英名千古", "千古流芳", "德泽长存", "永垂不朽", "流芳百世")),
    Occasion("毕业", ("毕业", "同窗"), (), (("同窗", "离别"), ("长亭", "故人"))),
)


def year_named(phrase: str) -> str:
    """The animal whose year a phrase (a 横批) names: by one of its words (金猴, 羊年) or beside a word of the
    turn of the year (骏马迎春, 三羊开泰); "" for none. The dragon, every year's emblem, names one by its words
    alone (金龙献瑞 does, 龙凤呈祥 does not)."""
    return next((a for a in ZODIAC if a in phrase and any(w in phrase for w in ANIMAL_WORDS[a]
                                                          + (YEAR_PHRASE_WORDS if a != "龙" else ()))), "")


CHINESE_DIGITS = str.maketrans("〇零一二三四五六七八九", "00123456789")


def year_of(theme: str) -> str:
    """The animal of the year a theme names: by one of its words (羊年, 金羊, 猴岁) or by its number
    (2027, 2027年: 羊), the first named; "" for none."""
    found = [(theme.find(w), a) for a, words in ANIMAL_WORDS.items() for w in words if w in theme]
    digits = theme.translate(CHINESE_DIGITS)          # 二〇二七 as 2027
    found += [(m.start(), ZODIAC[(int(m.group()) - 2020) % 12])
              for m in re.finditer(r"(?<!\d)(19|20|21)\d\d(?!\d)", digits)]
    return min(found)[1] if found else ""


def occasion_of(theme: str, need: str = "seeds", years: bool = True) -> Occasion | None:
    """The occasion a theme names (the first in OCCASIONS whose word it holds), when it has what the
    caller reads (`need`: "seeds" for whole couplets, "poem" for poems); else None. With years, a theme
    that names a year (羊年, 2027) is 春节's unless it names another occasion, with that year's seeds
    and 横批 beside 春节's, and the year's words allowed."""
    found = next((o for o in OCCASIONS if any(w in theme for w in o.words)), None)
    year = year_of(theme) if years else ""
    if year and (found is None or found.name == "春节"):
        spring = next(o for o in OCCASIONS if o.name == "春节")
        found = replace(spring, year=year, hengpi=YEAR_HENGPI[year] + spring.hengpi)
        found = replace(found, seeds=(ANIMAL_NAMES[found.year_before] + "辞岁", ANIMAL_NAMES[year] + "迎春")
                        + spring.seeds[1:])
    elif year and found is not None:
        found = replace(found, year=year)
    return found if found is not None and getattr(found, need) else None
