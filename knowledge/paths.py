"""Where the knowledge base's shipped files live, defined once (standard library only, so the
Rasa runtime may import it too)."""

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parent
DATA_DIR = PACKAGE_DIR / "data"  # editable data: glossary, rules, lexicons, normalisation
SOURCES_DIR = PACKAGE_DIR / "sources"  # documents exactly as received, and their manifest
