"""The clause store: documents, versions, clauses and passages in SQLite, the source of truth.

Every index is derived from it; citations and the clause texts the rules engine quotes are read
from it. `versions` says which stored version of a document is in force on a given day.
"""

from knowledge.store.clause_store import ClauseStore
from knowledge.store.versions import (
    DRAFT,
    EXPIRED,
    PUBLISHED,
    SCHEDULED,
    SUPERSEDED,
    check_date,
    cited_with_version,
    derived_status,
    in_force,
    today_iso,
    version_label,
)

__all__ = ["DRAFT", "EXPIRED", "PUBLISHED", "SCHEDULED", "SUPERSEDED", "ClauseStore",
           "check_date", "cited_with_version", "derived_status", "in_force", "today_iso",
           "version_label"]
