"""Publishing an amended opinion: add → diff → refused publish → fixed publish → answers change.

The amended version is made here from the shipped raw source: item 工作任务/2 reworded (warnings
2–3 days ahead instead of 1–2), a new item 保障措施/3 added, item 工作任务/4 removed (cited by
the eligibility rule safeguard_no_blanket_penalty; its removal renumbers 工作任务/5 and /6).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bench.sample_documents import amended_opinion
from knowledge import cli
from knowledge.indexing.generation import CURRENT_POINTER, current_generation
from knowledge.indexing.lexical_index import LexicalIndex
from knowledge.knowledge_base import KnowledgeBase
from knowledge.publishing.workflow import (
    PublishRefused,
    add_version,
    diff_versions,
    publish_version,
    version_rows,
)
from tests.conftest import DOC_ID
from tests.unit.knowledge.helpers import make_kb, write

WARNING_QUESTION = "重污染天气预警提前几天发布？"
NEW_ITEM_QUESTION = "政府会不会公开错峰生产清单和正向鼓励清单，给企业解读政策？"
OPINION_CITATION = "《关于进一步强化生态环境领域差别化管控措施 切实做好高质量项目服务保障的意见》"


@pytest.fixture()
def kb(tmp_path: Path) -> KnowledgeBase:
    return make_kb(tmp_path / "kb")


def top(kb_or_retriever, question: str):
    retriever = getattr(kb_or_retriever, "retriever", kb_or_retriever)
    result = retriever.search(question, 3)
    assert result.hits, result.reason
    return result


def test_amended_opinion_add_diff_refuse_fix_publish(kb: KnowledgeBase, tmp_path: Path) -> None:
    before = top(kb, WARNING_QUESTION)
    assert "提前1至2天" in before.hits[0].passage.text
    assert before.hits[0].passage.citation == f"{OPINION_CITATION}工作任务 第2条"

    # add: a draft, not served
    report = add_version(kb, write(tmp_path, "amended.txt", amended_opinion()), DOC_ID, "2025",
                         "2025-03-01")
    assert report.parsed.unplaced_lines == []
    assert "提前1至2天" in top(kb, WARNING_QUESTION).hits[0].passage.text
    assert [r["status"] for r in version_rows(kb, DOC_ID)] == ["published", "draft"]

    # diff: exactly the three amendments (plus the renumbering the removal causes)
    d = diff_versions(kb, DOC_ID, "2019", "2025")
    assert [(c.old_key, c.new_key) for c in d.of_kind("changed")] == [("工作任务/2", "工作任务/2")]
    assert [c.new_key for c in d.of_kind("added")] == ["保障措施/3"]
    assert [c.old_key for c in d.of_kind("removed")] == ["工作任务/4"]
    assert [(c.old_key, c.new_key) for c in d.of_kind("renumbered")] == [
        ("工作任务/5", "工作任务/4"), ("工作任务/6", "工作任务/5")]
    changed = d.of_kind("changed")[0]
    assert "提前[-1-]{+2+}至[-2-]{+3+}天" in changed.text_diff
    assert "rule safeguard_early_warning" in {c.who for c in changed.citers}
    removed = d.of_kind("removed")[0]
    assert "rule safeguard_no_blanket_penalty" in {c.who for c in removed.citers}

    # publish refused: a rule cites the removed item; nothing served changes
    live = current_generation(kb.settings.index_root)
    with pytest.raises(PublishRefused) as refused:
        publish_version(kb, DOC_ID, "2025")
    message = str(refused.value)
    assert "rule safeguard_no_blanket_penalty" in message
    assert "工作任务/4（完善执法监管机制）, which 2025 removes" in message
    assert "moves to 工作任务/4" in message  # a measure citing renumbered 工作任务/5
    assert current_generation(kb.settings.index_root) == live
    assert [r["status"] for r in version_rows(kb, DOC_ID)] == ["published", "draft"]

    # fix: a corrected draft that keeps the item, then publish
    add_version(kb, write(tmp_path, "amended2.txt", amended_opinion(remove_item_4=False)),
                DOC_ID, "2025", "2025-03-01")
    assert diff_versions(kb, DOC_ID, "2019", "2025").counts == {
        "added": 1, "removed": 0, "changed": 1, "renumbered": 0, "unchanged": 11}
    published = publish_version(kb, DOC_ID, "2025")
    assert (published.status, published.previous) == ("published", "2019")
    assert any("safeguard_early_warning" in line for line in published.review)
    assert [r["status"] for r in version_rows(kb, DOC_ID)] == ["superseded", "published"]

    # answers and citations follow the version in force; the old one stays queryable
    after = top(kb, WARNING_QUESTION).hits[0].passage
    assert "提前2至3天" in after.text and after.version == "2025"
    assert after.citation == f"{OPINION_CITATION}工作任务 第2条（2025年版）"
    new_item = top(kb, NEW_ITEM_QUESTION).hits[0].passage
    assert new_item.clause_key == "保障措施/3" and "（2025年版）" in new_item.citation
    with kb.audit_retriever({DOC_ID: "2019"}) as audit:
        old = top(audit, WARNING_QUESTION).hits[0].passage
        assert "提前1至2天" in old.text
        assert old.citation == f"{OPINION_CITATION}工作任务 第2条（2019年版）"
        assert all(h.passage.clause_key != "保障措施/3"
                   for h in top(audit, NEW_ITEM_QUESTION).hits)

    # the eligibility engine quotes the version in force, and every cited clause is there
    engine = kb.eligibility_engine()
    assert engine.check() == []
    assessed = engine.assess({"industry": "钢铁", "meets_emission_standards": True})
    assert assessed.document["version"] == "2025"
    warning = [r for r in assessed.reasons if r.clause_key == "工作任务/2"]
    assert all("提前2至3天" in r.clause_text for r in warning)


def test_interrupted_build_leaves_live_generation_untouched(
        kb: KnowledgeBase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    retriever = kb.retriever
    live = current_generation(kb.settings.index_root)
    pointer = (kb.settings.index_root / CURRENT_POINTER).read_text(encoding="utf-8")
    gens = sorted(p.name for p in kb.settings.index_root.iterdir())
    add_version(kb, write(tmp_path, "a.txt", amended_opinion(remove_item_4=False)), DOC_ID,
                "2025", "2025-03-01")

    def boom(*args, **kwargs):
        raise RuntimeError("interrupted mid-build")

    monkeypatch.setattr(LexicalIndex, "build", boom)
    with pytest.raises(RuntimeError, match="interrupted mid-build"):
        publish_version(kb, DOC_ID, "2025")
    root = kb.settings.index_root
    assert (root / CURRENT_POINTER).read_text(encoding="utf-8") == pointer
    assert current_generation(root) == live
    assert sorted(p.name for p in root.iterdir()) == gens  # no staging debris, no new gen
    assert not list(root.glob(".building-*"))
    assert [r["status"] for r in version_rows(kb, DOC_ID)] == ["published", "draft"]
    assert "提前1至2天" in top(retriever, WARNING_QUESTION).hits[0].passage.text

    monkeypatch.undo()  # the next publish works and the same retriever follows it
    publish_version(kb, DOC_ID, "2025")
    assert "提前2至3天" in top(retriever, WARNING_QUESTION).hits[0].passage.text


def test_running_retriever_answers_from_new_version_without_restart(
        kb: KnowledgeBase, tmp_path: Path) -> None:
    from knowledge.retrieval.retriever import Retriever
    running = Retriever(kb.settings, kb.normalizer, kb.tokenizer, None)  # made before publish
    first = running.generation
    assert "提前1至2天" in top(running, WARNING_QUESTION).hits[0].passage.text
    add_version(kb, write(tmp_path, "a.txt", amended_opinion(remove_item_4=False)), DOC_ID,
                "2025", "2025-03-01")
    report = publish_version(kb, DOC_ID, "2025")
    hit = top(running, WARNING_QUESTION).hits[0].passage
    assert running.generation == report.generation != first
    assert "提前2至3天" in hit.text and hit.citation.endswith("（2025年版）")


def test_scheduled_version_is_published_but_not_served(kb: KnowledgeBase,
                                                        tmp_path: Path) -> None:
    add_version(kb, write(tmp_path, "a.txt", amended_opinion(remove_item_4=False)), DOC_ID,
                "2099", "2099-01-01")
    report = publish_version(kb, DOC_ID, "2099")
    assert report.status == "scheduled"
    assert [r["status"] for r in version_rows(kb, DOC_ID)] == ["published", "scheduled"]
    hit = top(kb, WARNING_QUESTION).hits[0].passage
    assert "提前1至2天" in hit.text and hit.citation.endswith("（2019年版）")
    # on its day it is in force
    assert "提前2至3天" in next(
        p.text for p in kb.served_passages("2099-01-01") if p.clause_key == "工作任务/2")


def test_ingest_keeps_working_after_a_publish(kb: KnowledgeBase, tmp_path: Path) -> None:
    add_version(kb, write(tmp_path, "a.txt", amended_opinion(remove_item_4=False)), DOC_ID,
                "2025", "2025-03-01")
    publish_version(kb, DOC_ID, "2025")
    kb.ingest_sources()  # re-ingests the manifest's 2019: 2025 stays in force
    assert "提前2至3天" in top(kb, WARNING_QUESTION).hits[0].passage.text


def run_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, home: Path,
            *argv: str) -> tuple[int, str, str]:
    monkeypatch.setenv("KB_HOME", str(home))
    monkeypatch.setenv("KB_DENSE_MODEL", "none")
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_add_versions_diff_publish(kb: KnowledgeBase, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture) -> None:
    home = kb.settings.home
    src = write(tmp_path, "amended.txt", amended_opinion())
    code, out, _ = run_cli(monkeypatch, capsys, home, "add", str(src), "--doc-id", DOC_ID,
                           "--version", "2025", "--effective", "2025-03-01", "--json")
    assert code == 0 and json.loads(out)["status"] == "draft"
    code, out, _ = run_cli(monkeypatch, capsys, home, "versions", DOC_ID)
    assert code == 0 and "2025" in out and "draft" in out
    code, out, _ = run_cli(monkeypatch, capsys, home, "diff", DOC_ID, "2019", "2025", "--json")
    assert json.loads(out)["counts"]["removed"] == 1
    code, out, _ = run_cli(monkeypatch, capsys, home, "diff", DOC_ID, "2019", "2025")
    assert "REMOVED" in out and "safeguard_no_blanket_penalty" in out
    code, out, err = run_cli(monkeypatch, capsys, home, "publish", DOC_ID, "2025", "--json")
    assert code == 4 and json.loads(out)["published"] is False
    assert "safeguard_no_blanket_penalty" in err
    src2 = write(tmp_path, "amended2.txt", amended_opinion(remove_item_4=False))
    code, out, _ = run_cli(monkeypatch, capsys, home, "add", str(src2), "--doc-id", DOC_ID,
                           "--version", "2025", "--effective", "2025-03-01")
    assert code == 0 and "replaced draft" in out
    code, out, err = run_cli(monkeypatch, capsys, home, "publish", DOC_ID, "2025")
    assert code == 0 and "published" in out and "generation gen-" in err  # progress on stderr
    code, out, _ = run_cli(monkeypatch, capsys, home, "search", WARNING_QUESTION, "--json",
                           "--version", "2019", "--top-k", "1")
    hit = json.loads(out)[0]
    assert hit["version"] == "2019" and "提前1至2天" in hit["text"]
    code, _, err = run_cli(monkeypatch, capsys, home, "publish", DOC_ID, "2031")
    assert code == 2 and "no version '2031'" in err
    code, _, err = run_cli(monkeypatch, capsys, home, "add", str(src2), "--doc-id", DOC_ID,
                           "--version", "2025", "--effective", "2025-03-01")
    assert code == 2 and "already published" in err
    shutil.rmtree(tmp_path / "kb", ignore_errors=True)


def test_searches_in_flight_never_fail_while_publishing(kb: KnowledgeBase,
                                                        tmp_path: Path) -> None:
    import threading
    running = kb.retriever
    errors: list[BaseException] = []
    texts: list[str] = []
    stop = threading.Event()

    def ask() -> None:
        while not stop.is_set():
            try:
                texts.append(running.search(WARNING_QUESTION, 1).hits[0].passage.text)
            except BaseException as exc:  # any failure fails the test
                errors.append(exc)
                return

    worker = threading.Thread(target=ask)
    worker.start()
    try:
        for n in range(4):  # more generations than the builder keeps: old ones are pruned
            add_version(kb, write(tmp_path, f"v{n}.txt", amended_opinion(remove_item_4=False)
                                  .replace("2至3天", f"{n + 2}至{n + 3}天")),
                        DOC_ID, f"202{n}", f"2021-0{n + 1}-01")
            publish_version(kb, DOC_ID, f"202{n}")
    finally:
        stop.set()
        worker.join(10)
    assert not errors and texts
    assert "提前5至6天" in top(running, WARNING_QUESTION).hits[0].passage.text
