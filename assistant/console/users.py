"""Staff accounts, login sessions and login throttling, in the console's own SQLite database.

Passwords are stored as salted scrypt hashes (stdlib, memory-hard); session tokens are random
and only their SHA-256 is stored, so a copy of the database opens no session. Sessions expire
after `RuntimeSettings.session_hours`. A session's CSRF token is derived from its token
(`csrf_token`), so it needs no storage and a page on another origin can neither read nor
compute it.

Failed logins are counted per account name and per client address (`LoginThrottle`); the
counts live in the same file, so a lockout holds across restarts of the console.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
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
CREATE TABLE IF NOT EXISTS login_throttle (
    key TEXT PRIMARY KEY, failures INTEGER NOT NULL, window_start REAL NOT NULL,
    lockouts INTEGER NOT NULL, locked_until REAL NOT NULL, last_failure REAL NOT NULL);
"""


@dataclass(frozen=True)
class StaffUser:
    username: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class LoginThrottle:
    """When failed logins lock an account name or a client address out.

    `max_failures` failures within `window_seconds` lock the key for `first_lockout_seconds`;
    after that every further failure locks it again for twice as long as the time before (up
    to `max_lockout_seconds`), until a successful login or `forget_seconds` without a failure.
    While a key is locked every attempt is refused before its password is looked at.
    """

    max_failures: int = 5
    window_seconds: float = 15 * 60
    first_lockout_seconds: float = 60
    max_lockout_seconds: float = 60 * 60
    forget_seconds: float = 24 * 60 * 60

    def lockout_seconds(self, lockouts: int) -> float:
        return min(self.first_lockout_seconds * 2.0 ** min(lockouts - 1, 32),
                   self.max_lockout_seconds)


@dataclass(frozen=True)
class _Failures:
    """One row of `login_throttle`: the failures counted against one key."""

    failures: int = 0
    window_start: float = 0.0
    lockouts: int = 0  # lockouts since the key was last forgiven: the next one lasts longer
    locked_until: float = 0.0
    last_failure: float = 0.0

    def after_failure(self, now: float, policy: LoginThrottle) -> _Failures:
        lockouts = 0 if now - self.last_failure > policy.forget_seconds else self.lockouts
        in_window = now - self.window_start <= policy.window_seconds
        failures = self.failures + 1 if in_window else 1
        if failures < policy.max_failures and not lockouts:
            return _Failures(failures, self.window_start if in_window else now, 0,
                             self.locked_until, now)
        return _Failures(0, now, lockouts + 1, now + policy.lockout_seconds(lockouts + 1), now)


@dataclass(frozen=True)
class LoginAttempt:
    """A login attempt, counted as a failure before its password is checked (so that parallel
    guesses cannot overtake the count) and forgiven by `ConsoleDatabase.login_succeeded`."""

    username: str
    address: str
    retry_after: float = 0.0  # > 0: refused unchecked, locked for this many more seconds
    locked: tuple[str, ...] = ()  # "account", "address": what this attempt locks if it fails
    lockout_seconds: float = 0.0
    counted: tuple[tuple[str, float], ...] = ()  # (key, locked_until it set) per key

    @property
    def refused(self) -> bool:
        return self.retry_after > 0


def csrf_token(session_token: str) -> str:
    """The token a page must send with every state-changing request of this session."""
    return hmac.new(session_token.encode("utf-8"), b"console-csrf", hashlib.sha256).hexdigest()


def _hash(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, **SCRYPT)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _account_key(username: str) -> str:
    return f"account:{username}"


def _address_key(address: str) -> str:
    return f"address:{address}"


class ConsoleDatabase:
    """Users, sessions and resolved review items; one file, opened per operation."""

    def __init__(self, path: Path, session_hours: float = 8.0,
                 clock: Callable[[], float] = time.time,
                 throttle: LoginThrottle | None = None) -> None:
        self.path = path
        self.session_seconds = session_hours * 3600
        self.throttle = throttle or LoginThrottle()
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

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction taken at its start (BEGIN IMMEDIATE): read-then-write steps of
        concurrent requests, in this process or another, cannot interleave."""
        db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
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
            # A new password lifts a lockout of the account (not of any address).
            db.execute("DELETE FROM login_throttle WHERE key = ?", (_account_key(username),))
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

    # login throttling
    def begin_login(self, username: str, address: str) -> LoginAttempt:
        """Refuses the attempt while the account or the address is locked; otherwise counts it
        as a failure of both until `login_succeeded` says otherwise."""
        keys = (_account_key(username), _address_key(address))
        now = self._clock()
        with self._write() as db:
            rows = {key: self._failures(db, key) for key in keys}
            wait = max(row.locked_until for row in rows.values()) - now
            if wait > 0:
                return LoginAttempt(username, address, retry_after=wait)
            counted, locked, seconds = [], [], 0.0
            for key, row in rows.items():
                after = row.after_failure(now, self.throttle)
                self._store(db, key, after)
                counted.append((key, after.locked_until))
                if after.locked_until > now:
                    locked.append(key.split(":", 1)[0])
                    seconds = max(seconds, after.locked_until - now)
            db.execute("DELETE FROM login_throttle WHERE last_failure < ? AND locked_until < ?",
                       (now - self.throttle.forget_seconds, now))
        return LoginAttempt(username, address, locked=tuple(locked), lockout_seconds=seconds,
                            counted=tuple(counted))

    def login_succeeded(self, attempt: LoginAttempt) -> None:
        """The password was right: the account starts afresh, and the address loses the
        failure counted for this attempt, any lockout it set, and its lockout history."""
        (account, _), (address, lock_it_set) = attempt.counted
        with self._write() as db:
            db.execute("DELETE FROM login_throttle WHERE key = ?", (account,))
            row = self._failures(db, address)
            self._store(db, address, replace(
                row, failures=max(row.failures - 1, 0), lockouts=0,
                locked_until=0.0 if row.locked_until == lock_it_set else row.locked_until))

    @staticmethod
    def _failures(db: sqlite3.Connection, key: str) -> _Failures:
        row = db.execute("SELECT failures, window_start, lockouts, locked_until, last_failure"
                         " FROM login_throttle WHERE key = ?", (key,)).fetchone()
        return _Failures(*row) if row else _Failures()

    @staticmethod
    def _store(db: sqlite3.Connection, key: str, row: _Failures) -> None:
        db.execute("INSERT OR REPLACE INTO login_throttle VALUES (?, ?, ?, ?, ?, ?)",
                   (key, row.failures, row.window_start, row.lockouts, row.locked_until,
                    row.last_failure))

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
