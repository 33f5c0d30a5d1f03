"""Staff accounts and sessions in a real SQLite file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from assistant.console.users import ConsoleDatabase, StaffUser


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def db(tmp_path: Path, clock: Clock) -> ConsoleDatabase:
    return ConsoleDatabase(tmp_path / "console.db", session_hours=1, clock=clock)


def test_passwords_are_stored_hashed_and_checked(db: ConsoleDatabase) -> None:
    db.add_user("li", "correct horse", "admin")
    assert db.check_password("li", "correct horse") == StaffUser("li", "admin")
    assert db.check_password("li", "wrong horse!") is None
    assert db.check_password("nobody", "correct horse") is None
    stored = sqlite3.connect(db.path).execute("SELECT hash FROM users").fetchone()[0]
    assert b"correct horse" not in stored and len(stored) == 32


def test_same_password_gets_different_hashes(db: ConsoleDatabase) -> None:
    db.add_user("a", "same password")
    db.add_user("b", "same password")
    hashes = sqlite3.connect(db.path).execute("SELECT hash FROM users").fetchall()
    assert hashes[0] != hashes[1]


@pytest.mark.parametrize(("name", "password", "role", "message"), [
    ("li", "short", "staff", "at least"),
    ("", "long enough", "staff", "username"),
    ("li", "long enough", "root", "role"),
])
def test_bad_accounts_are_refused(db: ConsoleDatabase, name: str, password: str, role: str,
                                  message: str) -> None:
    with pytest.raises(ValueError, match=message):
        db.add_user(name, password, role)


def test_sessions_expire_and_close(db: ConsoleDatabase, clock: Clock) -> None:
    user = db.add_user("wang", "long enough")
    token = db.open_session(user)
    assert db.session_user(token) == user
    assert db.session_user("forged-token") is None
    clock.now += 3599
    assert db.session_user(token) == user
    clock.now += 2
    assert db.session_user(token) is None
    fresh = db.open_session(user)
    db.close_session(fresh)
    assert db.session_user(fresh) is None


def test_only_token_hashes_are_stored(db: ConsoleDatabase) -> None:
    token = db.open_session(db.add_user("zhao", "long enough"))
    stored = sqlite3.connect(db.path).execute("SELECT token_hash FROM sessions").fetchone()[0]
    assert token not in stored


def test_resolved_items_are_remembered(db: ConsoleDatabase) -> None:
    user = db.add_user("li", "long enough")
    db.resolve("u1", "handoff:7", user)
    assert db.resolved_keys() == {("u1", "handoff:7")}
