"""The knowledge base's home and store, and the console's database, are their owner's only.

They hold every document version (drafts included), staff accounts (password hashes) and
sessions. `make ingest` and `make console-user` run without the supervisor's umask 077, so
the code that creates them must set the modes itself: directories 0700, SQLite files 0600,
and the same for ones an older release left readable to others.
"""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.console.users import ConsoleDatabase
from assistant.settings import RuntimeSettings
from knowledge.knowledge_base import KnowledgeBase
from knowledge.settings import KnowledgeSettings


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    """What a shell usually has: files 0644, directories 0755."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_a_new_knowledge_base_home_and_its_store_are_private(tmp_path: Path) -> None:
    kb = KnowledgeBase(KnowledgeSettings(home=tmp_path / "kb"))
    assert kb.store.documents() == []
    assert mode(kb.settings.home) == 0o700
    assert mode(kb.settings.db_path) == 0o600


def test_a_knowledge_base_left_readable_by_an_older_release_is_made_private(tmp_path: Path) -> None:
    home = tmp_path / "kb"
    KnowledgeBase(KnowledgeSettings(home=home)).store  # noqa: B018 (creates the store)
    home.chmod(0o755)
    (home / "kb.sqlite").chmod(0o644)
    assert KnowledgeBase(KnowledgeSettings(home=home)).store.documents() == []
    assert (mode(home), mode(home / "kb.sqlite")) == (0o700, 0o600)


def test_the_console_database_made_by_make_console_user_is_private(tmp_path: Path) -> None:
    settings = RuntimeSettings().model_copy(update={"var_dir": tmp_path / "var"})
    env = {
        **os.environ,
        "ASSISTANT_VAR_DIR": str(settings.var_dir),
        "PYTHONPATH": str(settings.root),
        "CONSOLE_PASSWORD": "a-long-password",
    }
    done = subprocess.run(
        [str(settings.actions_python), "-m", "assistant.console", "add-user", "li"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=settings.root,
    )
    assert done.returncode == 0, done.stderr
    assert mode(settings.console_db.parent) == 0o700
    assert mode(settings.console_db) == 0o600


def test_a_console_database_left_readable_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "console" / "console.db"
    ConsoleDatabase(path)
    path.parent.chmod(0o755)
    path.chmod(0o644)
    ConsoleDatabase(path)
    assert (mode(path.parent), mode(path)) == (0o700, 0o600)
