"""Document versions after ingestion: add a draft, compare it clause by clause, publish it.

A publish is refused while an eligibility rule cites a clause the new version removes; it
builds a new index generation and switches to it, so running servers follow within seconds.
"""

from knowledge.publishing.diff import ClauseChange, VersionDiff, diff_clauses
from knowledge.publishing.workflow import (
    AddReport,
    PublishRefused,
    PublishReport,
    add_version,
    diff_versions,
    publish_version,
    version_rows,
)

__all__ = ["AddReport", "ClauseChange", "PublishRefused", "PublishReport", "VersionDiff",
           "add_version", "diff_clauses", "diff_versions", "publish_version", "version_rows"]
