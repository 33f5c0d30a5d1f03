"""Document versions: stored status, the version in force by date, drafts never served."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bench.sample_documents import RAW_SOURCE, amended_opinion
from knowledge.models import DocumentInfo
from knowledge.publishing.workflow import add_version
from knowledge.store.clause_store import ClauseStore
from knowledge.store.versions import cited_with_version, derived_status, in_force, version_label
from tests.conftest import DOC_ID
from tests.unit.knowledge.helpers import make_kb, write


def info(version: str, effective: str, status: str = "published", expires: str = "",
         doc_id: str = "d") -> DocumentInfo:
    return DocumentInfo(doc_id, version, "t", effective=effective, status=status,
                        expires=expires)


def test_version_in_force_by_date_status_and_expiry() -> None:
    versions = [info("2019", "2019-01-01"), info("2025", "2025-03-01"),
                info("2030", "2030-01-01"), info("d", "2020-01-01", status="draft")]
    assert in_force(versions, "2024-12-31")["d"].version == "2019"
    assert in_force(versions, "2025-03-01")["d"].version == "2025"
    assert in_force(versions, "2031-01-01")["d"].version == "2030"
    assert in_force(versions, "2018-01-01") == {}
    assert in_force(versions, "2024-01-01", extra_published=("d", "d"))["d"].version == "d"
    statuses = [derived_status(v, versions, "2026-01-01") for v in versions]
    assert statuses == ["superseded", "published", "scheduled", "draft"]
    expiring = [info("2019", "2019-01-01"), info("2025", "2025-03-01", expires="2026-01-01")]
    assert in_force(expiring, "2025-12-31")["d"].version == "2025"
    assert in_force(expiring, "2026-01-01")["d"].version == "2019"  # expired: the older applies
    assert derived_status(expiring[1], expiring, "2026-01-01") == "expired"


def test_version_labels() -> None:
    assert version_label("2019") == "2019年版"
    assert version_label("v2") == "版本 v2"
    assert cited_with_version("《意见》工作任务 第2条", "2025") == "《意见》工作任务 第2条（2025年版）"


def test_store_made_before_versions_is_migrated(tmp_path: Path) -> None:
    db = tmp_path / "kb.sqlite"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE documents (doc_id TEXT NOT NULL, version TEXT NOT NULL,"
                    " title TEXT NOT NULL, short_title TEXT, issuer TEXT, effective TEXT,"
                    " source_file TEXT, headline TEXT, ingested_at TEXT NOT NULL DEFAULT"
                    " (datetime('now')), PRIMARY KEY (doc_id, version))")
        con.execute("INSERT INTO documents (doc_id, version, title, effective)"
                    " VALUES ('d', '1', 't', '2019-01-01')")
    store = ClauseStore(db)
    [doc] = store.documents()
    assert (doc.version, doc.status, doc.expires) == ("1", "published", "")


def test_store_documents_leave_out_drafts_and_future_versions(tmp_path: Path) -> None:
    kb = make_kb(tmp_path / "kb")
    add_version(kb, write(tmp_path, "a.txt", amended_opinion()), DOC_ID, "2025", "2025-03-01")
    add_version(kb, write(tmp_path, "b.txt", amended_opinion()), DOC_ID, "2099", "2099-01-01")
    kb.store.set_status(DOC_ID, "2099", "published")
    assert [d.version for d in kb.store.documents()] == ["2019"]
    assert [d.version for d in kb.store.documents("2099-06-01")] == ["2019", "2099"]
    assert [d.version for d in kb.store.versions(DOC_ID)] == ["2019", "2025", "2099"]
    # the served index holds the version in force only, without a version suffix: the
    # published versions are 2019 and (scheduled) 2099, so the suffix appears
    served = kb.served_passages()
    assert {p.version for p in served} == {"2019"}
    assert all(p.citation.endswith("（2019年版）") for p in served)


def test_add_validates_its_input(tmp_path: Path) -> None:
    kb = make_kb(tmp_path / "kb")
    src = write(tmp_path, "a.txt", amended_opinion())
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        add_version(kb, src, DOC_ID, "2025", "2025/03/01")
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        add_version(kb, src, DOC_ID, "2025", "2025-02-30")
    with pytest.raises(ValueError, match="not after"):
        add_version(kb, src, DOC_ID, "2025", "2025-03-01", expires="2025-01-01")
    with pytest.raises(ValueError, match="already published"):
        add_version(kb, RAW_SOURCE, DOC_ID, "2019", "2019-01-01")
    with pytest.raises(ValueError, match="--title"):
        add_version(kb, src, "another-doc", "1", "2025-03-01")
    report = add_version(kb, src, "another-doc", "1", "2025-03-01", title="另一份意见")
    assert report.parsed.info.title == "另一份意见" and report.diff is None
    inherited = add_version(kb, src, DOC_ID, "2025", "2025-03-01", expires="2030-01-01")
    assert inherited.parsed.info.title.startswith("关于进一步强化")
    assert inherited.compared_with == "2019" and inherited.diff is not None
