from __future__ import annotations

import pytest

from knowledge.models import DocumentInfo
from knowledge.retrieval.version_reference import requested_versions

VERSIONS = [
    DocumentInfo(doc_id="opinion", version="2019", title="意见", status="published"),
    DocumentInfo(doc_id="opinion", version="2025", title="意见", status="published"),
    DocumentInfo(doc_id="opinion", version="2026", title="意见", status="draft"),
    DocumentInfo(doc_id="notice", version="v2", title="通知", status="published"),
]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("2019年版怎么说预警时间", {"opinion": "2019"}),
        ("按2025版，预警提前几天", {"opinion": "2025"}),
        ("版本 v2 里怎么规定", {"notice": "v2"}),
        ("预警提前几天", {}),
        ("2030年版怎么说", {}),  # no such version: answer from the version in force
        ("2026年版怎么说", {}),  # a draft is never shown
    ],
)
def test_requested_versions(question: str, expected: dict[str, str]) -> None:
    assert requested_versions(question, VERSIONS) == expected
