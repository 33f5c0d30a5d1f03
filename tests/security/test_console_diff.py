"""A version diff cannot pin the console (issue 26, finding 8), through the console's API.

Two drafts of 10 clauses x 4,000 characters once made one staff `GET .../diff` run 206 s of CPU:
difflib's work grows with the product of how often each character occurs in both texts, and
the diff compared every pair of long clauses several times. The work is measured here, not the
time: every `difflib.SequenceMatcher` the request runs is counted in the character pairs its
inner loop visits (for each character of one text, each occurrence of it in the other), and a
request that goes past a generous bound is stopped at once.

The console app runs in-process over a real knowledge base (BM25 only) in a temporary home.
"""

from __future__ import annotations

import difflib
import random
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assistant.console.api.deps import CSRF_HEADER
from assistant.console.app import create_app
from assistant.console.delivery import RasaGateway
from assistant.console.users import ConsoleDatabase
from assistant.settings import RuntimeSettings
from knowledge.knowledge_base import KnowledgeBase
from knowledge.publishing.workflow import add_version
from tests.unit.knowledge.helpers import make_kb, write

PASSWORD = "diff-test-password"
DOC = "diff-stress"
# Character pairs difflib may visit for one diff request. The bounded diff stays far below
# (its own budget is a quarter of this); the unbounded one visited ~4 M for each comparison of
# two pathological clauses, and compared each pair three times.
PAIR_BOUND = 20_000_000


class WorkExceeded(AssertionError):
    pass


def pairs_visited(a: str, b: str) -> int:
    ca, cb = Counter(a), Counter(b)
    return sum(n * cb.get(ch, 0) for ch, n in ca.items())


@pytest.fixture()
def difflib_work(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the work of every SequenceMatcher; raises once PAIR_BOUND is passed."""
    spent = [0]
    original = difflib.SequenceMatcher

    class Counting(original):  # type: ignore[misc, valid-type]
        def get_matching_blocks(self):  # type: ignore[no-untyped-def]
            if self.matching_blocks is None:
                spent[0] += pairs_visited(self.a, self.b)
                if spent[0] > PAIR_BOUND:
                    raise WorkExceeded(f"the diff visited more than {PAIR_BOUND} char pairs")
            return super().get_matching_blocks()

    monkeypatch.setattr(difflib, "SequenceMatcher", Counting)
    return spent


def document(items: list[str]) -> str:
    return "关于差别化管控的通知\n\n一、工作任务\n" + "".join(f"（{'一二三四五六七八九十'[i]}）{t}\n"
                                      for i, t in enumerate(items))


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    home = tmp_path_factory.mktemp("kb-diff")
    kb = make_kb(home / "kb")
    rng = random.Random(26)
    alphabet = "清单企业"  # few distinct characters: the worst case for difflib

    def noise() -> str:
        return "".join(rng.choice(alphabet) for _ in range(4000))

    rule = "企业应当按照差别化管控要求制定错峰生产方案并报送主管部门备案。"
    long_clause = rule * 65 + "对按期完成的企业给予奖励。" + rule * 65
    drafts = {
        "p1": [noise() for _ in range(10)],
        "p2": [noise() for _ in range(10)],
        "n1": ["办理时限为15个工作日。", "材料不全的，一次性告知。", long_clause],
        "n2": ["办理时限为10个工作日。", "材料不全的，一次性告知。",
               long_clause.replace("给予奖励", "给予资金补助")],
    }
    for version, items in drafts.items():
        add_version(kb, write(home, f"{version}.txt", document(items)), DOC, version,
                    "2025-01-01", title="差别化管控压力测试文件")
    return kb


@pytest.fixture()
def console(kb: KnowledgeBase, tmp_path: Path) -> Iterator[TestClient]:
    settings = RuntimeSettings().model_copy(update={"var_dir": tmp_path})
    db = ConsoleDatabase(tmp_path / "console.db")
    db.add_user("staff1", PASSWORD, "staff")
    with TestClient(create_app(settings, kb, db, RasaGateway(settings))) as client:
        resp = client.post("/api/login", json={"username": "staff1", "password": PASSWORD})
        assert resp.status_code == 200, resp.text
        client.headers[CSRF_HEADER] = resp.headers[CSRF_HEADER]
        yield client


def test_a_pathological_diff_does_bounded_work_and_says_so(
        console: TestClient, difflib_work: list[int]) -> None:
    resp = console.get(f"/api/kb/documents/{DOC}/diff", params={"old": "p1", "new": "p2"})
    assert resp.status_code == 200, resp.text
    assert difflib_work[0] <= PAIR_BOUND
    body = resp.json()
    assert body["limited"] is True  # the page says the comparison was simplified
    assert body["counts"]["changed"] + body["counts"]["added"] == 10
    for change in body["changes"]:
        assert change["text_diff"]  # every clause still shows what changed, if coarsely
        if change["kind"] == "changed":
            assert change["coarse"] is True


def test_a_normal_diff_is_exact_even_for_a_long_clause(
        console: TestClient, difflib_work: list[int]) -> None:
    resp = console.get(f"/api/kb/documents/{DOC}/diff", params={"old": "n1", "new": "n2"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["limited"] is False
    assert body["counts"] == {"added": 0, "removed": 0, "changed": 2, "renumbered": 0,
                              "unchanged": 1}
    diffs = {c["new_key"]: c for c in body["changes"]}
    first, long_one = diffs["工作任务/1"], diffs["工作任务/3"]
    assert "1[-5-]{+0+}个工作日" in first["text_diff"] and first["coarse"] is False
    # A clause of ~4,000 characters with one word changed: exactly that word is marked.
    assert "给予[-奖励-]{+资金补助+}。" in long_one["text_diff"] and long_one["coarse"] is False
    assert long_one["text_diff"].count("[-") == 1
