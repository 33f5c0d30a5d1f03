"""Staff accounts, login sessions and login throttling, in the console's own SQLite database.

Passwords are stored as salted scrypt hashes (stdlib, memory-hard); session tokens are random
and only their SHA-256 is stored, so a copy of the database opens no session. Sessions expire
after `RuntimeSettings.session_hours`. A session's CSRF token is derived from its token
(`csrf_token`), so it needs no storage and a page on another origin can neither read nor
compute it.

Failed logins are counted per source and account, per source, and per account
(`LoginThrottle`): a source is the client address (an IPv6 client's /64, which one client
usually holds whole). What locks a source never locks the account for other sources, so no
one can keep a colleague out by failing on purpose. The counts live in the same file, so a
lockout holds across restarts of the console.

A new password (a reset by `make console-user`, or staff changing their own) ends the
account's other sessions.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from knowledge.paths import private_dir, private_file

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
    """When failed logins lock a source out, for one account or for all.

    Failures are counted under three keys. Two lock a source (a client address, or an IPv6
    /64): its failures on one account, and its failures on any account. `max_failures`
    failures within `window_seconds` lock the key for `first_lockout_seconds`; after that
    every further failure locks it again for twice as long as the time before (up to
    `max_lockout_seconds`), until a successful login or `forget_seconds` without a failure.

    The third counts an account's failures from every source, against guessing spread over
    many sources: `account_max_failures` within `account_window_seconds` guard the account,
    with the same growing lockouts. A guarded account refuses only the sources that failed on
    it (within `forget_seconds`); a source without failures still signs in, so the guard locks
    no one out. One source cannot guard an account either: its own limits keep it below
    `account_max_failures` in any window (`test_users.py` measures it).

    While a key that applies is locked, every attempt is refused before its password is looked
    at.
    """

    max_failures: int = 5
    window_seconds: float = 15 * 60
    first_lockout_seconds: float = 60
    max_lockout_seconds: float = 60 * 60
    forget_seconds: float = 24 * 60 * 60
    account_max_failures: int = 20
    account_window_seconds: float = 60 * 60

    def lockout_seconds(self, lockouts: int) -> float:
        return min(self.first_lockout_seconds * 2.0 ** min(lockouts - 1, 32),
                   self.max_lockout_seconds)

    @property
    def for_accounts(self) -> LoginThrottle:
        """The policy of the per-account count: its own ceiling and window."""
        return replace(self, max_failures=self.account_max_failures,
                       window_seconds=self.account_window_seconds)


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

    def failed_since(self, since: float) -> bool:
        return self.last_failure > 0 and self.last_failure >= since

    def forgiven(self, counted: _Counted, keep_history: bool) -> _Failures:
        """Without one failure that turned out a success: the lockout it set, if no other
        failure has set one since, goes back to what it was before."""
        unchanged = self.locked_until == counted.locked_until
        return replace(self, failures=max(self.failures - 1, 0),
                       lockouts=self.lockouts if keep_history else 0,
                       locked_until=counted.locked_before if unchanged else self.locked_until)


@dataclass(frozen=True)
class _Counted:
    """One key an attempt was counted under, and its lockout before and after."""

    key: str
    locked_before: float
    locked_until: float


# What a lockout applies to, as `LoginAttempt.locked` and `.refused_by` name it.
PAIR, SOURCE, ACCOUNT = "source and account", "source", "account"


@dataclass(frozen=True)
class LoginAttempt:
    """A login attempt, counted as a failure before its password is checked (so that parallel
    guesses cannot overtake the count) and forgiven by `ConsoleDatabase.login_succeeded`."""

    username: str
    address: str
    retry_after: float = 0.0  # > 0: refused unchecked, locked for this many more seconds
    refused_by: str = ""  # PAIR, SOURCE or ACCOUNT: the lockout that refused it
    locked: tuple[str, ...] = ()  # PAIR, SOURCE, ACCOUNT: what this attempt locks if it fails
    lockout_seconds: float = 0.0
    counted: tuple[_Counted, ...] = ()  # PAIR, SOURCE, ACCOUNT

    @property
    def refused(self) -> bool:
        return self.retry_after > 0


@dataclass(frozen=True)
class SavedAccount:
    """What `ConsoleDatabase.save_user` did: for the audit line of the command."""

    user: StaffUser
    created: bool
    sessions_ended: int


def csrf_token(session_token: str) -> str:
    """The token a page must send with every state-changing request of this session."""
    return hmac.new(session_token.encode("utf-8"), b"console-csrf", hashlib.sha256).hexdigest()


def _hash(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, **SCRYPT)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def source_of(address: str) -> str:
    """The source failures are counted for: the address, an IPv6 client's /64 (a client
    usually holds a whole /64 and could otherwise take a new address for every guess)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _account_key(username: str) -> str:
    return f"account:{username}"


def _source_key(source: str) -> str:
    return f"address:{source}"


def _pair_key(source: str, username: str) -> str:
    return "pair:" + json.dumps([username, source])


def _pairs_of(username: str) -> str:
    """The prefix every `_pair_key` of this account starts with (JSON: unambiguous)."""
    return "pair:" + json.dumps([username])[:-1] + ", "


def _check_new_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise ValueError(f"password needs at least {MIN_PASSWORD_CHARS} characters")


class ConsoleDatabase:
    """Users, sessions and resolved review items; one file, opened per operation."""

    def __init__(self, path: Path, session_hours: float = 8.0,
                 clock: Callable[[], float] = time.time,
                 throttle: LoginThrottle | None = None) -> None:
        self.path = path
        self.session_seconds = session_hours * 3600
        self.throttle = throttle or LoginThrottle()
        self._clock = clock
        # Accounts and sessions: the owner's only, whatever the umask of the command that
        # creates the file (`make console-user` runs without the supervisor's).
        private_dir(path.parent)
        private_file(path)
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
        return self.save_user(username, password, role).user

    def save_user(self, username: str, password: str, role: str = "staff") -> SavedAccount:
        """Creates the account, or resets its password and role. A reset ends every session of
        the account (whoever knew the old password may hold one) and lifts its lockouts."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}")
        if not username.strip():
            raise ValueError("username must not be empty")
        _check_new_password(password)
        salt = secrets.token_bytes(16)
        with self._write() as db:
            created = db.execute("SELECT 1 FROM users WHERE username = ?",
                                 (username,)).fetchone() is None
            db.execute("INSERT OR REPLACE INTO users VALUES (?, ?, ?, ?, ?)",
                       (username, role, salt, _hash(password, salt), self._clock()))
            ended = db.execute("DELETE FROM sessions WHERE username = ?", (username,)).rowcount
            self._unlock_account(db, username)
        return SavedAccount(StaffUser(username, role), created, ended)

    def change_password(self, username: str, password: str, keep_session: str) -> int:
        """Staff changing their own password: every other session of theirs ends, the one
        they changed it from goes on. Returns how many ended."""
        _check_new_password(password)
        salt = secrets.token_bytes(16)
        with self._write() as db:
            db.execute("UPDATE users SET salt = ?, hash = ? WHERE username = ?",
                       (salt, _hash(password, salt), username))
            ended = self._close_other_sessions(db, username, keep_session)
            self._unlock_account(db, username)
        return ended

    def user(self, username: str) -> StaffUser | None:
        with self._db() as db:
            row = db.execute("SELECT role FROM users WHERE username = ?", (username,)).fetchone()
        return StaffUser(username, row[0]) if row else None

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
        """Refuses the attempt while a lockout applies to its source (see `LoginThrottle`);
        otherwise counts it as a failure under every key until `login_succeeded` says
        otherwise."""
        source = source_of(address)
        policy = self.throttle
        keys = {PAIR: _pair_key(source, username), SOURCE: _source_key(source),
                ACCOUNT: _account_key(username)}
        policies = {PAIR: policy, SOURCE: policy, ACCOUNT: policy.for_accounts}
        now = self._clock()
        with self._write() as db:
            rows = {kind: self._failures(db, key) for kind, key in keys.items()}
            applies = dict(rows)
            if not rows[PAIR].failed_since(now - policy.forget_seconds):
                del applies[ACCOUNT]  # a guarded account still lets a clean source in
            refused_by, row = max(applies.items(), key=lambda item: item[1].locked_until)
            if row.locked_until > now:
                return LoginAttempt(username, address, retry_after=row.locked_until - now,
                                    refused_by=refused_by)
            counted, locked, seconds = [], [], 0.0
            for kind, key in keys.items():
                after = rows[kind].after_failure(now, policies[kind])
                self._store(db, key, after)
                counted.append(_Counted(key, rows[kind].locked_until, after.locked_until))
                if after.locked_until > now:
                    locked.append(kind)
                    seconds = max(seconds, after.locked_until - now)
            db.execute("DELETE FROM login_throttle WHERE last_failure < ? AND locked_until < ?",
                       (now - policy.forget_seconds, now))
        return LoginAttempt(username, address, locked=tuple(locked), lockout_seconds=seconds,
                            counted=tuple(counted))

    def login_succeeded(self, attempt: LoginAttempt) -> None:
        """The password was right: the source starts afresh on this account, and loses the
        failure counted for this attempt, any lockout it set and its lockout history; the
        account loses this attempt's failure and the lockout it set (a guard against other
        sources stays)."""
        pair, source, account = attempt.counted
        with self._write() as db:
            db.execute("DELETE FROM login_throttle WHERE key = ?", (pair.key,))
            self._store(db, source.key, self._failures(db, source.key).forgiven(source, False))
            self._store(db, account.key, self._failures(db, account.key).forgiven(account, True))

    def unlock(self, username: str, address: str | None = None) -> int:
        """What an administrator lifts (`python -m assistant.console unlock`): the account's
        guard and every source's lockout on it, and with `address` that source's lockout on
        every account. Returns how many counts were cleared."""
        with self._write() as db:
            cleared = self._unlock_account(db, username)
            if address:
                cleared += db.execute("DELETE FROM login_throttle WHERE key = ?",
                                      (_source_key(source_of(address)),)).rowcount
        return cleared

    @staticmethod
    def _unlock_account(db: sqlite3.Connection, username: str) -> int:
        prefix = _pairs_of(username)
        return db.execute("DELETE FROM login_throttle WHERE key = ? OR substr(key, 1, ?) = ?",
                          (_account_key(username), len(prefix), prefix)).rowcount

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

    def close_other_sessions(self, username: str, keep_session: str) -> int:
        """Signs the account out everywhere but `keep_session`; returns how many ended."""
        with self._write() as db:
            return self._close_other_sessions(db, username, keep_session)

    @staticmethod
    def _close_other_sessions(db: sqlite3.Connection, username: str, keep: str) -> int:
        return db.execute("DELETE FROM sessions WHERE username = ? AND token_hash != ?",
                          (username, _token_hash(keep))).rowcount

    # review queue
    def resolve(self, sender_id: str, item_key: str, user: StaffUser) -> None:
        with self._db() as db:
            db.execute("INSERT OR REPLACE INTO resolved VALUES (?, ?, ?, ?)",
                       (sender_id, item_key, user.username, self._clock()))

    def resolved_keys(self) -> set[tuple[str, str]]:
        with self._db() as db:
            return {(s, k) for s, k in db.execute("SELECT sender_id, item_key FROM resolved")}
