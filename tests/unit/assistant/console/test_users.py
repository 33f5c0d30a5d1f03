"""Staff accounts and sessions in a real SQLite file."""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from assistant.console.users import (
    ACCOUNT,
    PAIR,
    SOURCE,
    ConsoleDatabase,
    LoginAttempt,
    StaffUser,
    csrf_token,
    source_of,
)


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


# -- login throttling ----------------------------------------------------------------------
def fail(db: ConsoleDatabase, username: str = "li", address: str = "10.0.0.1") -> LoginAttempt:
    """One attempt whose password turns out wrong (what the login route does)."""
    return db.begin_login(username, address)


def test_five_failures_in_the_window_lock_the_source_not_the_account(
        db: ConsoleDatabase, clock: Clock) -> None:
    attempts = [fail(db) for _ in range(5)]
    assert [a.refused for a in attempts] == [False] * 5
    assert [a.locked for a in attempts] == [()] * 4 + [(PAIR, SOURCE)]
    assert attempts[-1].lockout_seconds == 60
    assert not db.begin_login("li", "10.0.0.2").refused  # the account, from elsewhere
    assert db.begin_login("zhao", "10.0.0.1").retry_after == 60  # anyone, from the source
    clock.now += 59
    assert db.begin_login("li", "10.0.0.1").refused
    clock.now += 2
    assert not db.begin_login("li", "10.0.0.1").refused


def test_one_source_failing_whenever_it_may_never_guards_the_account(
        db: ConsoleDatabase, clock: Clock) -> None:
    """The per-account ceiling is out of one source's reach, however long it keeps trying."""
    start = clock.now
    while clock.now < start + 3 * 24 * 3600:
        attempt = db.begin_login("li", "10.0.0.1")
        assert ACCOUNT not in attempt.locked
        clock.now += attempt.retry_after + 1 if attempt.refused else 1
    assert not db.begin_login("li", "10.0.0.2").refused


def test_many_sources_guard_the_account_against_those_that_failed_only(
        db: ConsoleDatabase, clock: Clock) -> None:
    ceiling = db.throttle.account_max_failures
    attempts = [fail(db, address=f"10.1.0.{n}") for n in range(ceiling)]
    assert ACCOUNT in attempts[-1].locked and ACCOUNT not in attempts[-2].locked
    assert db.begin_login("li", "10.1.0.0").refused_by == ACCOUNT
    fresh = db.begin_login("li", "10.2.0.1")  # no failure of its own: let in
    assert not fresh.refused
    db.login_succeeded(fresh)
    assert db.begin_login("li", "10.1.0.5").refused  # the guard outlives a right password
    clock.now += 3600 + 1
    assert not db.begin_login("li", "10.1.0.5").refused


def test_an_ipv6_client_is_one_source_across_its_64(db: ConsoleDatabase) -> None:
    for n in range(5):
        fail(db, f"guess-{n}", f"2001:db8:1:2::{n + 1}")
    assert db.begin_login("li", "2001:db8:1:2:ffff::9").refused_by == SOURCE
    assert not db.begin_login("li", "2001:db8:1:3::1").refused
    assert source_of("::ffff:192.0.2.7") == "192.0.2.7"
    assert source_of("testclient") == "testclient"


def test_unlocking_lifts_the_account_and_its_sources(db: ConsoleDatabase) -> None:
    for n in range(db.throttle.account_max_failures):
        fail(db, address=f"10.1.0.{n}")
    for _ in range(5):
        fail(db, "zhao", "10.3.0.1")
    assert db.begin_login("li", "10.1.0.0").refused
    assert db.unlock("li") > 0
    assert not db.begin_login("li", "10.1.0.0").refused
    assert db.begin_login("li", "10.3.0.1").refused_by == SOURCE  # locked on every account
    db.unlock("li", address="10.3.0.1")
    assert not db.begin_login("li", "10.3.0.1").refused
    assert db.begin_login("zhao", "10.3.0.1").refused_by == PAIR  # another account's lock


def test_failures_outside_the_window_do_not_add_up(db: ConsoleDatabase, clock: Clock) -> None:
    for _ in range(4):
        fail(db)
    clock.now += 15 * 60 + 1
    assert [fail(db).locked for _ in range(4)] == [()] * 4


def test_each_failure_after_a_lockout_locks_twice_as_long_up_to_an_hour(
        db: ConsoleDatabase, clock: Clock) -> None:
    for _ in range(5):
        last = fail(db)
    waits = [last.lockout_seconds]
    for _ in range(8):
        clock.now += waits[-1] + 1
        waits.append(fail(db).lockout_seconds)
    assert waits == [60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]
    clock.now += 3600 + 24 * 3600 + 1  # a quiet day: forgotten
    assert fail(db).locked == ()


def test_a_right_password_forgives_its_attempt(db: ConsoleDatabase) -> None:
    for _ in range(4):
        fail(db)
    db.login_succeeded(db.begin_login("li", "10.0.0.1"))  # the 5th, with the right password
    assert [fail(db).locked for _ in range(4)] == [()] * 4  # the account starts afresh
    # ... and the office's address keeps no count of its staff's successful logins.
    for _ in range(10):
        db.login_succeeded(db.begin_login("wang", "10.0.0.9"))
    assert fail(db, "wang", "10.0.0.9").locked == ()


def test_a_new_password_lifts_the_account_lockouts_and_ends_its_sessions(
        db: ConsoleDatabase) -> None:
    user = db.add_user("li", "the first password")
    other = db.open_session(db.add_user("zhao", "another password"))
    sessions = [db.open_session(user) for _ in range(2)]
    for _ in range(5):
        fail(db)
    assert db.begin_login("li", "10.0.0.1").refused
    saved = db.save_user("li", "a new long password")
    assert (saved.created, saved.sessions_ended) == (False, 2)
    assert [db.session_user(t) for t in sessions] == [None, None]
    assert db.session_user(other) == StaffUser("zhao", "staff")
    assert db.begin_login("li", "10.0.0.1").refused_by == SOURCE  # the source stays locked
    assert not db.begin_login("li", "10.0.0.2").refused


def test_changing_ones_own_password_ends_the_other_sessions(db: ConsoleDatabase) -> None:
    user = db.add_user("li", "the first password")
    here, *elsewhere = (db.open_session(user) for _ in range(3))
    assert db.change_password("li", "the second password", keep_session=here) == 2
    assert db.session_user(here) == user
    assert [db.session_user(t) for t in elsewhere] == [None, None]
    assert db.check_password("li", "the first password") is None
    assert db.check_password("li", "the second password") == user
    with pytest.raises(ValueError):
        db.change_password("li", "short", keep_session=here)
    assert db.close_other_sessions("li", here) == 0


def test_lockouts_are_kept_in_the_database_file(db: ConsoleDatabase, clock: Clock) -> None:
    for _ in range(5):
        fail(db)
    reopened = ConsoleDatabase(db.path, clock=clock)
    assert reopened.begin_login("li", "10.0.0.1").retry_after == 60
    rows = sqlite3.connect(db.path).execute("SELECT key FROM login_throttle").fetchall()
    assert sorted(rows) == [("account:li",), ("address:10.0.0.1",), ('pair:["li", "10.0.0.1"]',)]


def test_csrf_tokens_belong_to_one_session(db: ConsoleDatabase) -> None:
    user = db.add_user("li", "long enough")
    first, second = db.open_session(user), db.open_session(user)
    assert csrf_token(first) == csrf_token(first)
    assert csrf_token(first) != csrf_token(second)
    assert first not in csrf_token(first) and len(csrf_token(first)) == 64


def test_parallel_guesses_cannot_overtake_the_count(db: ConsoleDatabase) -> None:
    with ThreadPoolExecutor(max_workers=12) as pool:
        attempts = list(pool.map(lambda _: db.begin_login("li", "10.0.0.1"), range(24)))
    assert sum(not a.refused for a in attempts) == 5
