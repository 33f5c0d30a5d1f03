"""Articles of texts in force that point to a repealed law, and the Code articles that govern now.

The 生态环境法典 (ecological-environment-code) repealed the 环境保护法, the 大气污染防治法
and the 环境影响评价法 on 2026-08-15, but texts still in force keep pointing to them:
建设项目环境保护管理条例 第二十一条 says "依照《中华人民共和国环境影响评价法》的规定处罚",
排污许可管理条例 第三十八条 "依照《中华人民共和国环境保护法》的规定按日连续处罚". Such an
article quoted alone misleads: the law it sends the reader to no longer applies.
knowledge/data/cross_references.yml lists every such article (the tests check that none is
missing) with the Code article(s) that now govern what it points to.

How an answer uses it (the answering code, not this module, does this):

- When a passage of `(doc_id, article)` is quoted and the map has entries for that key, the answer
  must not stop at the quoted article. For each entry it adds a line naming the repealed law and
  the governing Code articles, e.g. "该条所称《中华人民共和国环境影响评价法》已于2026年8月15日被
  《中华人民共和国生态环境法典》废止，现行规定见《中华人民共和国生态环境法典》第一千零九十五条", and
  preferably quotes (or offers) the governing articles' text as well: they carry today's fines.
- An entry with `governing == ()` means no Code article clearly governs: say only that the law
  named is repealed (and its repeal date), without pointing to a Code article.
- `reviewed` is False until staff check the link; an unreviewed link may still be shown (the
  repeal itself is certain), but should not be stated more firmly than "现行规定见".

The loader never raises on content errors: it returns the entries it could read and the problems
found, so one bad entry does not hide the others (as `load_questions` does). Standard library and
PyYAML only.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

_REF = re.compile(r"^([a-z0-9][a-z0-9-]*)#([1-9]\d*)$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_FIELDS = frozenset({"doc_id", "article", "phrase", "repealed_doc_id", "repealed_articles",
                     "governing", "note", "reviewed", "found_by", "found_on"})


@dataclass(frozen=True)
class CrossReference:
    """One article of a text in force that names a repealed law."""

    doc_id: str  # the citing text in force
    article: int  # its article number
    phrase: str  # its words that name the repealed law, verbatim
    repealed_doc_id: str  # the repealed law named
    governing: tuple[tuple[str, int], ...]  # (doc_id, article) now governing; () if none clear
    reviewed: bool  # checked by staff
    repealed_articles: tuple[int, ...] = ()  # the repealed law's articles meant, if known
    note: str = ""  # why these governing articles
    found_by: str = ""
    found_on: str = ""  # YYYY-MM-DD


# (citing doc_id, article) -> its references, in file order (an article may name two repealed laws)
CrossReferenceMap = dict[tuple[str, int], tuple[CrossReference, ...]]


def _positive_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, str) and value.isdigit() and int(value) > 0:
        return int(value)
    return None


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _entry(raw: object, where: str, problems: list[str]) -> CrossReference | None:
    """One entry, or None (with its problems recorded) when it cannot be used."""
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected a mapping, got {raw!r}")
        return None
    unknown = sorted(str(k) for k in raw if k not in _FIELDS)
    if unknown:
        problems.append(f"{where}: unknown field(s) {', '.join(unknown)}")
    doc_id, article = _text(raw.get("doc_id")), _positive_int(raw.get("article"))
    if doc_id and article:
        where = f"{where} ({doc_id} article {article})"
    bad = len(problems)
    if not doc_id:
        problems.append(f"{where}: doc_id missing")
    if article is None:
        problems.append(f"{where}: article must be a positive integer, got {raw.get('article')!r}")
    phrase, repealed = _text(raw.get("phrase")), _text(raw.get("repealed_doc_id"))
    if not phrase:
        problems.append(f"{where}: phrase missing")
    if not repealed:
        problems.append(f"{where}: repealed_doc_id missing")
    elif repealed == doc_id:
        problems.append(f"{where}: a text cannot refer to itself as repealed")

    governing: list[tuple[str, int]] = []
    refs = raw.get("governing")
    if not isinstance(refs, list):
        problems.append(f"{where}: governing must be a list of doc_id#N ([] if none is clear)")
        refs = []
    for ref in refs:
        m = _REF.match(str(ref).strip()) if isinstance(ref, str) else None
        if not m:
            problems.append(f"{where}: governing {ref!r} is not doc_id#N")
            continue
        pair = (m.group(1), int(m.group(2)))
        if pair in governing:
            problems.append(f"{where}: governing {ref} listed twice")
        elif pair[0] in (repealed, doc_id):
            problems.append(f"{where}: governing {ref} is not in the text that now governs")
        else:
            governing.append(pair)

    note = _text(raw.get("note"))
    if not governing and not note:
        problems.append(f"{where}: no governing article and no note saying why")

    old = raw.get("repealed_articles", [])
    old_numbers = [_positive_int(n) for n in (old if isinstance(old, list) else [old])]
    if any(n is None for n in old_numbers):
        problems.append(f"{where}: repealed_articles must be positive integers, got {old!r}")
    reviewed = raw.get("reviewed")
    if not isinstance(reviewed, bool):
        problems.append(f"{where}: reviewed must be true or false, got {reviewed!r}")
    found_on = raw.get("found_on", "")
    if isinstance(found_on, dt.date):
        found_on = found_on.isoformat()
    if found_on and not _DATE.match(str(found_on)):
        problems.append(f"{where}: found_on must be YYYY-MM-DD, got {found_on!r}")

    if len(problems) > bad or not doc_id or article is None:
        return None  # an entry with a wrong field is left out, not half-used
    return CrossReference(
        doc_id, article, phrase, repealed, tuple(governing), bool(reviewed),
        tuple(n for n in old_numbers if n is not None), note,
        _text(raw.get("found_by")), str(found_on))


def load_cross_references(path: Path | str) -> tuple[CrossReferenceMap, list[str]]:
    """knowledge/data/cross_references.yml -> (citing doc_id, article) -> references.

    Returns the map and the problems found; never raises on a file's content (a missing file is
    an empty map). An entry with a problem is left out of the map; the others are kept. Unknown
    fields are reported but do not drop the entry."""
    path = Path(path)
    if not path.exists():
        return {}, []
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        return {}, [f"{path.name}: not valid YAML: {exc}"]
    if data is None:
        return {}, []
    entries = data.get("references") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        return {}, [f"{path.name}: expected a top-level `references:` list"]
    problems: list[str] = []
    found: dict[tuple[str, int], list[CrossReference]] = {}
    for i, raw in enumerate(entries, start=1):
        where = f"{path.name}: entry {i}"
        ref = _entry(raw, where, problems)
        if ref is None:
            continue
        same = found.setdefault((ref.doc_id, ref.article), [])
        if any(r.repealed_doc_id == ref.repealed_doc_id for r in same):
            problems.append(f"{where} ({ref.doc_id} article {ref.article}): a second entry for "
                            f"{ref.repealed_doc_id}; merge them")
            continue
        same.append(ref)
    return {key: tuple(refs) for key, refs in found.items()}, problems
