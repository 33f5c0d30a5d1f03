"""Free-text industries -> the opinion's strategic fields, from the editable lexicon.

The table is the contract with policy staff: each lexicon edit should add its phrasing here.
Unknown industries must stay unknown: a guessed field would promise support the opinion
does not give.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.eligibility.industry_classifier import (
    DEFAULT_LEXICON_PATH,
    IndustryClassifier,
    load_lexicon,
)
from knowledge.eligibility.yaml_lines import DataFileError
from knowledge.language.normalizer import TextNormalizer

BIGDATA = "大数据与物联网"
IT_MFG = "信息技术制造业"
AI = "人工智能与智能装备"
BIO = "生物医药健康"
EQUIP = "高端装备制造"
ENERGY = "新能源与智能电网"
NEV = "新能源汽车与智能网联汽车"
MATERIALS = "新材料"
ENV = "先进环保产业"
FUTURE = "未来产业"

# (what an owner says, the fields expected, how: lexicon or similarity)
PHRASINGS = [
    ("石墨烯导热膜", {MATERIALS}, "lexicon"),
    ("我们是做石墨烯材料的小企业", {MATERIALS}, "lexicon"),
    ("碳纤维复合材料", {MATERIALS}, "lexicon"),
    ("稀土功能材料", {MATERIALS}, "lexicon"),
    ("可降解塑料袋", {MATERIALS}, "lexicon"),
    ("创新药研发", {BIO}, "lexicon"),
    ("医疗器械生产", {BIO}, "lexicon"),
    ("中药饮片加工", {BIO}, "lexicon"),
    ("疫苗研发", {BIO}, "lexicon"),
    ("光伏组件", {ENERGY}, "lexicon"),
    ("风电叶片", {ENERGY}, "lexicon"),
    ("储能电站", {ENERGY}, "lexicon"),
    ("氢燃料电池", {ENERGY}, "lexicon"),
    ("特高压输变电设备", {ENERGY}, "lexicon"),
    ("数控机床", {EQUIP}, "lexicon"),
    ("轨道交通装备", {EQUIP}, "lexicon"),
    ("3D打印设备", {EQUIP}, "lexicon"),
    ("云服务", {BIGDATA}, "lexicon"),
    ("数据中心运维", {BIGDATA}, "lexicon"),
    ("物联网传感器", {BIGDATA}, "lexicon"),
    ("软件开发外包", {BIGDATA}, "lexicon"),
    ("做芯片封装测试的", {IT_MFG}, "lexicon"),
    ("5G基站设备", {IT_MFG}, "lexicon"),
    ("工业机器人集成", {AI}, "lexicon"),
    ("AI算法公司", {AI}, "lexicon"),
    ("新能源汽车零部件", {NEV}, "lexicon"),  # not also 新能源 (新能源与智能电网)
    ("电动汽车充电桩", {NEV}, "lexicon"),
    ("智能网联汽车测试", {NEV}, "lexicon"),
    ("动力电池pack", {NEV}, "lexicon"),
    ("污水处理设备", {ENV}, "lexicon"),
    ("脱硫脱硝工程", {ENV}, "lexicon"),
    ("危废处置", {ENV}, "lexicon"),
    ("锂电池回收", {ENV}, "lexicon"),  # recycling, not making batteries
    ("量子通信", {FUTURE}, "lexicon"),
    # several fields at once
    ("锂电池", {ENERGY, NEV}, "lexicon"),
    ("无人机", {AI, EQUIP}, "lexicon"),
    ("人工智能芯片", {AI, IT_MFG}, "lexicon"),
    # Traditional characters and full-width letters, as WeChat users type them
    ("石墨烯導熱膜", {MATERIALS}, "lexicon"),
    ("光伏組件", {ENERGY}, "lexicon"),
    ("ＡＩ芯片", {AI, IT_MFG}, "lexicon"),
    # typos and voice-input slips: the similarity fallback
    ("生物医要研发", {BIO}, "similarity"),
    ("数控机窗", {EQUIP}, "similarity"),
    ("人工只能", {AI}, "similarity"),
    ("新能原汽车", {NEV}, "similarity"),
]

UNKNOWN = [
    "卖早餐的", "开饭馆", "理发店", "服装批发", "开超市", "水泥厂", "钢铁", "家具厂",
    "养猪场", "房地产中介", "物流运输", "印刷厂", "做包子的", "化工厂", "纺织厂",
    "汽车维修", "汽车电瓶维修", "健康食品", "智能手机店",
    # out of scope although they contain a keyword (and must not come back by similarity)
    "电动车维修", "卖电动车", "开药店", "医药连锁药房",
]


@pytest.fixture(scope="module")
def classifier() -> IndustryClassifier:
    return IndustryClassifier.from_files(DEFAULT_LEXICON_PATH, TextNormalizer())


def test_the_table_is_large_enough() -> None:
    assert len(PHRASINGS) >= 30


@pytest.mark.parametrize(("text", "fields", "via"), PHRASINGS, ids=[p[0] for p in PHRASINGS])
def test_phrasing_maps_to_fields(classifier: IndustryClassifier, text: str, fields: set[str],
                                 via: str) -> None:
    result = classifier.classify(text)
    assert result.status == "matched"
    assert set(result.fields) == fields
    assert {m.via for m in result.matches} == {via}


@pytest.mark.parametrize("text", UNKNOWN)
def test_unknown_industry_is_reported_not_guessed(classifier: IndustryClassifier,
                                                  text: str) -> None:
    result = classifier.classify(text)
    assert result.unknown and result.status == "unknown"
    assert result.fields == () and result.matches == ()


def test_fields_come_in_the_opinions_order(classifier: IndustryClassifier) -> None:
    assert classifier.classify("人工智能芯片").fields == (IT_MFG, AI)


def test_every_field_name_classifies_as_itself(classifier: IndustryClassifier) -> None:
    names = classifier.lexicon.field_names
    assert len(names) == 10
    for name in names:
        assert classifier.classify(f"我们属于{name}").fields == (name,)


def test_similarity_threshold_is_read_from_the_lexicon(tmp_path: Path) -> None:
    text = DEFAULT_LEXICON_PATH.read_text(encoding="utf-8")
    strict = tmp_path / "lexicon.yml"
    strict.write_text(text.replace("threshold: 0.75", "threshold: 0.95"), encoding="utf-8")
    assert IndustryClassifier.from_files(strict).classify("生物医要研发").unknown


def _bad_lexicon(tmp_path: Path, old: str, new: str) -> tuple[Path, int]:
    """Writes the lexicon with one edit; returns its path and the first line that changed."""
    original = DEFAULT_LEXICON_PATH.read_text(encoding="utf-8")
    assert old in original
    text = original.replace(old, new, 1)
    path = tmp_path / "lexicon.yml"
    path.write_text(text, encoding="utf-8")
    changed = next(n for n, (a, b) in enumerate(
        zip(original.splitlines(), text.splitlines(), strict=False), start=1)
        if a != b)
    return path, changed


@pytest.mark.parametrize(("old", "new", "line_text", "message"), [
    # a misspelt key: reported on the key's own line
    ("  - name: 新材料\n    keywords:\n", "  - name: 新材料\n    keyword:\n", "    keyword:",
     "keyword"),
    ("  threshold: 0.75", "  threshold: 7.5", "  threshold: 7.5", "threshold"),
    # a duplicate keyword: reported at the field's keyword list (the last such line
    # before the duplicate)
    ("      - 石墨烯\n", "      - 石墨烯\n      - 石墨烯\n", "    keywords:",
     "duplicate keywords: 石墨烯"),
    ("  - name: 未来产业", "  - name: 新材料", "  - name: 新材料", "listed twice"),
])
def test_lexicon_errors_name_file_and_line(tmp_path: Path, old: str, new: str, line_text: str,
                                           message: str) -> None:
    path, changed = _bad_lexicon(tmp_path, old, new)
    with pytest.raises(DataFileError) as err:
        load_lexicon(path)
    # the reported line: the last line reading `line_text` up to the end of the edit
    lines = path.read_text(encoding="utf-8").splitlines()
    expected = max(n for n, text in enumerate(lines, start=1)
                   if text == line_text and n <= changed + new.count("\n"))
    assert message in str(err.value)
    assert f"{path}:{expected}:" in str(err.value), str(err.value)
