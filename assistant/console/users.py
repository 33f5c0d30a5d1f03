"""Staff accounts and login sessions, in the console's own SQLite database.

Passwords are stored as salted scrypt hashes (stdlib, memory-hard); session tokens are random
and only their SHA-256 is stored, so a copy of the database opens no session. Sessions expire
after `RuntimeSettings.session_hours`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROLES = ("staff", "admin")  # admin alone uploads and publishes documents
MIN_PASSWORD_CHARS = 8
SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    username TEXT PRIMARY KEY, role TEXT NOT NULL, salt BLOB NOT NULL, hash BLOB NOT NULL,
    created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY, username TEXT NOT NULL REFERENCES users(username),
    expires REAL NOT NULL);
CREATE TABLE IF NOT EXISTS resolved (
    sender_id TEXT NOT NULL, item_key TEXT NOT NULL, username TEXT NOT NULL, at REAL NOT NULL,
    PRIMARY KEY (sender_id, item_key));
"""


@dataclass(frozen=True)
class StaffUser:
    username: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def _hash(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, **SCRYPT)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class ConsoleDatabase:
    """Users, sessions and resolved review items; one file, opened per operation."""

    def __init__(self, path: Path, session_hours: float = 8.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.session_seconds = session_hours * 3600
        self._clock = clock
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.executescript(SCHEMA)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=10)
        try:
            with db:
                yield db
        finally:
            db.close()

    # users
    def add_user(self, username: str, password: str, role: str = "staff") -> StaffUser:
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}")
        if not username.strip():
            raise ValueError("username must not be empty")
        if len(password) < MIN_PASSWORD_CHARS:
            raise ValueError(f"password needs at least {MIN_PASSWORD_CHARS} characters")
        salt = secrets.token_bytes(16)
        with self._db() as db:
            db.execute("INSERT OR REPLACE INTO users VALUES (?, ?, ?, ?, ?)",
                       (username, role, salt, _hash(password, salt), self._clock()))
        return StaffUser(username, role)

    def has_users(self) -> bool:
        with self._db() as db:
            return db.execute("SELECT 1 FROM users LIMIT 1").fetchone() is not None

    def check_password(self, username: str, password: str) -> StaffUser | None:
        with self._db() as db:
            row = db.execute("SELECT role, salt, hash FROM users WHERE username = ?",
                             (username,)).fetchone()
        if row is None:
            _hash(password, b"0" * 16)  # same work either way: no user enumeration by timing
            return None
        role, salt, stored = row
        return StaffUser(username, role) if hmac.compare_digest(_hash(password, salt), stored) \
            else None

    # sessions
    def open_session(self, user: StaffUser) -> str:
        token = secrets.token_urlsafe(32)
        now = self._clock()
        with self._db() as db:
            db.execute("DELETE FROM sessions WHERE expires < ?", (now,))
            db.execute("INSERT INTO sessions VALUES (?, ?, ?)",
                       (_token_hash(token), user.username, now + self.session_seconds))
        return token

    def session_user(self, token: str) -> StaffUser | None:
        if not token:
            return None
        with self._db() as db:
            row = db.execute(
                "SELECT u.username, u.role, s.expires FROM sessions s JOIN users u"
                " ON u.username = s.username WHERE s.token_hash = ?", (_token_hash(token),)
            ).fetchone()
        if row is None or row[2] < self._clock():
            return None
        return StaffUser(row[0], row[1])

    def close_session(self, token: str) -> None:
        with self._db() as db:
            db.execute("DELETE FROM sessions WHERE token_hash = ?", (_token_hash(token),))

    # review queue
    def resolve(self, sender_id: str, item_key: str, user: StaffUser) -> None:
        with self._db() as db:
            db.execute("INSERT OR REPLACE INTO resolved VALUES (?, ?, ?, ?)",
                       (sender_id, item_key, user.username, self._clock()))

    def resolved_keys(self) -> set[tuple[str, str]]:
        with self._db() as db:
            return {(s, k) for s, k in db.execute("SELECT sender_id, item_key FROM resolved")}
