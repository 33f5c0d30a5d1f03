"""Clause-by-clause diff: matching by key, then by text for renumbered items."""

from __future__ import annotations

from knowledge.models import Clause
from knowledge.publishing.diff import (
    Citer,
    diff_clauses,
    eligibility_citers,
    inline_diff,
    similarity,
)
from knowledge.settings import KnowledgeSettings
from tests.conftest import DOC_ID


def clause(key: str, title: str, text: str, version: str = "1") -> Clause:
    section, _, no = key.partition("/")
    return Clause("d", version, key, section, int(no) if no else None, title, text,
                  f"《意见》{section} 第{no}条")


OLD = [
    clause("任务/1", "制定清单", "制定实施正向鼓励清单，开通绿色通道。"),
    clause("任务/2", "优化应急减排", "提前1至2天发布预警信息，给足企业准备时间。"),
    clause("任务/3", "错峰生产", "建立健全秋冬季错峰生产企业清单。"),
    clause("任务/4", "联合帮扶", "切实帮助解决实际问题和困难，提供技术服务。"),
]


def test_changed_added_removed_and_renumbered() -> None:
    new = [
        clause("任务/1", "制定清单", "制定实施正向鼓励清单，开通绿色通道。", "2"),
        clause("任务/2", "优化应急减排", "提前2至3天发布预警信息，给足企业准备时间。", "2"),
        clause("任务/3", "联合帮扶", "切实帮助解决实际问题和困难，提供技术服务和资金支持。", "2"),
        clause("任务/4", "宣传解读", "及时向企业解读差别化管控政策。", "2"),
    ]
    citers = [Citer("rule a", "任务/3", "r.yml:1"), Citer("rule b", "任务/2", "r.yml:2")]
    d = diff_clauses("d", "1", "2", OLD, new, citers)
    kinds = {(c.kind, c.old_key, c.new_key) for c in d.changes}
    assert kinds == {("unchanged", "任务/1", "任务/1"), ("changed", "任务/2", "任务/2"),
                     ("removed", "任务/3", None), ("renumbered", "任务/4", "任务/3"),
                     ("added", None, "任务/4")}
    removed = d.of_kind("removed")[0]
    assert [c.who for c in removed.citers] == ["rule a"]
    assert {(c.kind, w.who) for c, w in d.needs_review()} == {("removed", "rule a"),
                                                              ("changed", "rule b")}
    renumbered = d.of_kind("renumbered")[0]
    assert "{+和资金支持+}" in renumbered.text_diff  # renumbered and reworded
    data = d.to_json()
    assert data["counts"]["unchanged"] == 1 and data["unchanged"] == ["任务/1"]


def test_identical_versions_have_no_changes() -> None:
    d = diff_clauses("d", "1", "1b", OLD, OLD)
    assert d.counts["unchanged"] == 4 and not d.needs_review()


def test_inline_diff_and_similarity() -> None:
    assert inline_diff("提前1至2天", "提前2至3天") == "提前[-1-]{+2+}至[-2-]{+3+}天"
    assert inline_diff("abc", "abc") == "abc"
    assert similarity("相同", "相同") == 1.0 and similarity("甲乙", "丙丁") == 0.0


def test_citers_come_from_the_eligibility_rules_loader() -> None:
    citers = eligibility_citers(KnowledgeSettings().data_dir, DOC_ID)
    whos = {c.who for c in citers}
    assert "rule safeguard_no_blanket_penalty" in whos and "industry lexicon" in whos
    assert all(c.where for c in citers)
    assert eligibility_citers(KnowledgeSettings().data_dir, "no-such-doc") == []
