"""From a source file to clauses and passages: read the format, normalise, parse structure.

`readers` turns .txt/.docx/.html/.pdf into lines, `clause_parser` finds sections, items and
sentences and names each citation, `ingest` runs the sources manifest into the store.
"""

from knowledge.ingestion.clause_parser import ClauseParser, clause_citation
from knowledge.ingestion.ingest import Ingestor, SourceEntry, read_manifest
from knowledge.ingestion.readers import UnsupportedFormat, read_document

__all__ = ["ClauseParser", "Ingestor", "SourceEntry", "UnsupportedFormat", "clause_citation",
           "read_document", "read_manifest"]
