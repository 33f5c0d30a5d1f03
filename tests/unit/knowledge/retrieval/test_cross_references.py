"""Articles in force that point to a repealed law carry the Code articles that now govern
(knowledge/data/cross_references.yml): the shipped links are sound and complete."""

from __future__ import annotations

import re
import textwrap

import pytest

from knowledge.ingestion.ingest import DocumentParser, read_entry, read_manifest
from knowledge.language.normalizer import TextNormalizer
from knowledge.paths import SOURCES_DIR
from knowledge.retrieval.cross_references import CrossReference, load_cross_references
from knowledge.settings import PROJECT_ROOT

DATA = PROJECT_ROOT / "knowledge" / "data" / "cross_references.yml"
MANIFEST = SOURCES_DIR / "related" / "manifest.yml"
CODE = "ecological-environment-code"


@pytest.fixture(scope="module")
def entries():
    return {e.info.doc_id: e for e in read_manifest(MANIFEST)}


@pytest.fixture(scope="module")
def articles(entries) -> dict[str, dict[int, str]]:
    """doc_id -> article number -> text, as the project's parser reads the sources."""
    parser = DocumentParser(TextNormalizer())
    out = {}
    for doc_id, e in entries.items():
        doc = parser.parse(read_entry(e), e.info)
        out[doc_id] = {c.item_no: c.text for c in doc.clauses if c.item_no is not None}
    return out


@pytest.fixture(scope="module")
def shipped():
    refs, problems = load_cross_references(DATA)
    return refs, problems


def _in_force(entries) -> list[str]:
    """The texts in force other than the repealing one: the ones whose references can go stale."""
    return [d for d, e in entries.items() if not e.info.repealed_by and not e.info.repeals]


def _repealed_names(entries) -> tuple[re.Pattern[str], dict[str, str]]:
    """Every name of a repealed law (title, short title, aliases), longest first; 环境保护法律法规
    is a generic reference, not the 环境保护法, so a name followed by 律 or 规 does not count."""
    names = {}
    for doc_id, e in entries.items():
        if not e.info.repealed_by:
            continue
        doc = e.info
        for name in {doc.title, doc.short_title, *doc.aliases}:
            if name:
                names[name] = doc_id
    alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return re.compile(rf"(?P<name>{alternatives})(?![律规])"), names


def test_the_shipped_file_loads_without_problems(shipped):
    refs, problems = shipped
    assert problems == []
    assert len(refs) == 6
    assert all(isinstance(r, CrossReference) for rs in refs.values() for r in rs)


def test_every_citing_article_exists_in_force_and_contains_its_phrase(shipped, entries, articles):
    refs, _ = shipped
    in_force = _in_force(entries)
    for (doc_id, article), rs in refs.items():
        assert doc_id in in_force, doc_id
        assert article in articles[doc_id], (doc_id, article)
        for r in rs:
            assert r.phrase in articles[doc_id][article], (doc_id, article, r.phrase)


def test_the_phrase_names_the_repealed_law_given(shipped, entries):
    refs, _ = shipped
    pattern, names = _repealed_names(entries)
    for rs in refs.values():
        for r in rs:
            named = {names[m.group("name")] for m in pattern.finditer(r.phrase)}
            assert r.repealed_doc_id in named, r
            assert entries[r.repealed_doc_id].info.repealed_by == CODE, r


def test_every_governing_article_exists_in_the_repealing_code(shipped, entries, articles):
    refs, _ = shipped
    for rs in refs.values():
        for r in rs:
            repealer = entries[r.repealed_doc_id].info.repealed_by
            assert r.governing or r.note, r
            for doc_id, article in r.governing:
                assert doc_id == repealer, r
                assert article in articles[doc_id], (r.doc_id, r.article, doc_id, article)
            for old in r.repealed_articles:
                assert old in articles[r.repealed_doc_id], (r.doc_id, r.article, old)


def test_the_links_are_marked_with_who_found_them_and_when(shipped):
    refs, _ = shipped
    for rs in refs.values():
        for r in rs:
            assert r.found_by and re.fullmatch(r"\d{4}-\d{2}-\d{2}", r.found_on), r
            assert r.note, r


def test_every_article_in_force_that_names_a_repealed_law_has_an_entry(shipped, entries,
                                                                       articles):
    """Completeness: a new text or a new article naming a repealed law cannot slip through."""
    refs, _ = shipped
    pattern, names = _repealed_names(entries)
    missing = []
    for doc_id in _in_force(entries):
        for article, text in articles[doc_id].items():
            for m in pattern.finditer(text):
                repealed = names[m.group("name")]
                linked = {r.repealed_doc_id for r in refs.get((doc_id, article), ())}
                if repealed not in linked:
                    missing.append((doc_id, article, m.group("name")))
    assert missing == []
    # and nothing is listed that the texts do not name
    named = {(d, a) for d in _in_force(entries) for a, t in articles[d].items()
             if pattern.search(t)}
    assert set(refs) == named


def test_the_known_links(shipped):
    refs, _ = shipped

    def governing(doc_id, article):
        return {a for r in refs[(doc_id, article)] for _, a in r.governing}

    assert governing("construction-project-env-regulation", 21) == {1095}
    assert governing("pollutant-discharge-permit-regulation", 38) == {1060}
    assert governing("pollutant-discharge-permit-regulation", 44) == {1102, 1108}
    assert governing("mee-seizure-detention-measures", 1) == {52}
    # a generic reference ("有关环境保护法律法规") is not a link
    assert ("mee-seizure-detention-measures", 6) not in refs


def _load(tmp_path, text: str):
    path = tmp_path / "cross_references.yml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return load_cross_references(path)


GOOD = """\
  - doc_id: some-regulation
    article: 3
    phrase: 依照《中华人民共和国环境保护法》的规定处罚
    repealed_doc_id: environmental-protection-law
    governing: [ecological-environment-code#1060]
    note: why
    reviewed: false
    found_by: someone
    found_on: "2026-12-07"
"""


def test_malformed_entries_are_reported_and_the_good_ones_kept(tmp_path):
    refs, problems = _load(tmp_path, "references:\n" + GOOD + """\
  - doc_id: some-regulation
    article: zero
    phrase: x
    repealed_doc_id: eia-law
    governing: []
    note: none clear
    reviewed: false
  - doc_id: some-regulation
    article: 4
    phrase: ""
    repealed_doc_id: eia-law
    governing: [ecological-environment-code#0, "1095", eia-law#31]
    reviewed: maybe
    found_on: 7 Dec
  - doc_id: other-regulation
    article: 9
    phrase: 依照《中华人民共和国环境影响评价法》
    repealed_doc_id: eia-law
    governing: []
    reviewed: false
  - just a string
""" + GOOD)
    assert set(refs) == {("some-regulation", 3)}
    assert refs[("some-regulation", 3)][0].governing == ((CODE, 1060),)
    text = "\n".join(problems)
    assert "entry 2: article must be a positive integer" in text
    assert "phrase missing" in text
    assert "'ecological-environment-code#0' is not doc_id#N" in text
    assert "'1095' is not doc_id#N" in text
    assert "eia-law#31 is not in the text that now governs" in text
    assert "reviewed must be true or false" in text
    assert "found_on must be YYYY-MM-DD" in text
    assert "other-regulation article 9): no governing article and no note" in text
    assert "entry 5: expected a mapping" in text
    assert "entry 6 (some-regulation article 3): a second entry" in text


@pytest.mark.parametrize("text", [
    "references: [unclosed\n",  # not YAML
    "- a list at the top\n",
    "references: {doc_id: x}\n",
])
def test_an_unreadable_file_is_a_problem_not_an_exception(tmp_path, text):
    refs, problems = _load(tmp_path, text)
    assert refs == {} and len(problems) == 1


def test_a_missing_file_is_empty(tmp_path):
    assert load_cross_references(tmp_path / "absent.yml") == ({}, [])


def test_an_unknown_field_is_reported_but_keeps_the_entry(tmp_path):
    refs, problems = _load(tmp_path, "references:\n" + GOOD + "    governs: typo\n")
    assert set(refs) == {("some-regulation", 3)}
    assert problems == ["cross_references.yml: entry 1: unknown field(s) governs"]


def test_an_article_may_name_two_repealed_laws(tmp_path):
    second = GOOD.replace("environmental-protection-law", "eia-law")
    refs, problems = _load(tmp_path, "references:\n" + GOOD + second)
    assert problems == []
    assert [r.repealed_doc_id for r in refs[("some-regulation", 3)]] == [
        "environmental-protection-law", "eia-law"]
