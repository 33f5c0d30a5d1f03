"""Citations are written and read back in one place."""

from __future__ import annotations

import pytest

from knowledge.citations import CITATION_PATTERN, clause_reference, format_citation

TITLE = "关于进一步强化生态环境领域差别化管控措施 切实做好高质量项目服务保障的意见"


def test_written_and_read_back() -> None:
    citation = format_citation(TITLE, "工作任务 第2条")
    assert citation == f"《{TITLE}》工作任务 第2条"
    assert clause_reference(citation) == "工作任务 第2条"


@pytest.mark.parametrize(("citation", "reference"), [
    ("《中华人民共和国生态环境法典》第五十二条", "第五十二条"),
    ("《关于贯彻《某法》的意见》保障措施 第1条", "保障措施 第1条"),  # a title inside the title
    (f"《{TITLE}》工作任务 第2条（2019年版）", "工作任务 第2条（2019年版）"),
    ("工作任务 第3条", "工作任务 第3条"),  # no title: as it is
    (f"《{TITLE}》", f"《{TITLE}》"),  # a title only: nothing shorter to show
])
def test_clause_reference(citation: str, reference: str) -> None:
    assert clause_reference(citation) == reference


def test_pattern_finds_a_whole_citation_in_running_text() -> None:
    text = f"提前1至2天发布预警信息。——出自《{TITLE}》工作任务 第2条（优化应急减排措施）。"
    match = CITATION_PATTERN.search(text)
    assert match and match.group(0) == f"《{TITLE}》工作任务 第2条（优化应急减排措施）"
