"""Where the knowledge base's shipped files live, defined once (standard library only, so the
Rasa runtime may import it too)."""

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parent
DATA_DIR = PACKAGE_DIR / "data"  # editable data: glossary, rules, lexicons, normalisation
SOURCES_DIR = PACKAGE_DIR / "sources"  # documents exactly as received, and their manifest


def private_dir(path: Path) -> Path:
    """Creates `path` (and missing parents) for its owner only (0700), whatever the umask of
    the command that runs first, and takes group and other access away from an existing one
    of ours (made by an older release)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    _owner_only(path, 0o700)
    return path


def private_file(path: Path) -> Path:
    """Creates an empty file readable by its owner only (0600) unless it exists, and takes
    group and other access away from an existing one of ours. SQLite gives its journal and
    WAL files the database file's mode."""
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    _owner_only(path, 0o600)
    return path


def _owner_only(path: Path, mode: int) -> None:
    try:
        st = path.stat()
        if st.st_uid == os.geteuid() and st.st_mode & 0o077:
            path.chmod(mode)
    except OSError:  # not ours to change: the owner keeps what they chose
        pass
