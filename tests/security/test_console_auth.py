"""The staff console's login throttling, CSRF defence and security headers.

Most tests drive the console app in-process (FastAPI's TestClient over `create_app`, a real
SQLite console database, a settable clock, a chosen client address); the `served_console` ones
talk over HTTP to the real console process (`assistant.servers.console_server`, as `make run`
starts it) to see headers and cookies exactly as a browser gets them. None needs Rasa.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from assistant.console.app import create_app
from assistant.console.delivery import RasaGateway
from assistant.console.users import ConsoleDatabase, LoginThrottle
from assistant.scaleout.ports import free_port
from assistant.servers import ServerProcess, console_server
from assistant.settings import RuntimeSettings
from knowledge.knowledge_base import KnowledgeBase
from knowledge.settings import KnowledgeSettings

PASSWORD, ADMIN_PASSWORD = "security-staff-pw", "security-admin-pw"
OWN_ORIGIN = "http://testserver"  # TestClient's base URL
FOREIGN_ORIGIN = "https://evil.example"
PROXY_ORIGIN = "https://console.example.gov.cn"
CSRF_HEADER = "X-CSRF-Token"


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def settings(tmp_path: Path) -> RuntimeSettings:
    # Rasa's port points at nothing: these tests never reach the assistant.
    return RuntimeSettings().model_copy(update={"var_dir": tmp_path / "var",
                                                "rasa_port": free_port()})


@pytest.fixture
def db(settings: RuntimeSettings, clock: Clock) -> ConsoleDatabase:
    db = ConsoleDatabase(settings.console_db, clock=clock)
    db.add_user("li", PASSWORD, "staff")
    db.add_user("boss", ADMIN_PASSWORD, "admin")
    return db


def console_app(settings: RuntimeSettings, db: ConsoleDatabase) -> FastAPI:
    kb = KnowledgeBase(KnowledgeSettings(home=settings.var_dir / "kb"))
    return create_app(settings, kb, db, RasaGateway(settings))


@pytest.fixture
def app(settings: RuntimeSettings, db: ConsoleDatabase) -> FastAPI:
    return console_app(settings, db)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, client=("192.0.2.10", 40000)) as c:
        yield c


def login(client: TestClient, user: str, password: str, **headers: str) -> httpx.Response:
    return client.post("/api/login", json={"username": user, "password": password},
                       headers=headers)


def logged_in(client: TestClient, user: str = "li", password: str = PASSWORD) -> str:
    """Logs in as the page does and returns the CSRF token the login handed out."""
    resp = login(client, user, password, Origin=OWN_ORIGIN)
    assert resp.status_code == 200, resp.text
    token = resp.headers.get(CSRF_HEADER, "")
    assert token, "the login response carries no CSRF token"
    return token


# -- 4. login throttling ----------------------------------------------------------------------
def test_wrong_passwords_lock_the_account_and_the_right_one_is_refused_meanwhile(
        client: TestClient, clock: Clock) -> None:
    for _ in range(5):
        assert login(client, "li", "wrong-password").status_code == 401
    refused = login(client, "li", "wrong-password")
    assert refused.status_code == 429, refused.text
    wait = int(refused.headers["Retry-After"])
    assert 0 < wait <= 15 * 60
    assert "次数过多" in refused.json()["detail"]

    during = login(client, "li", PASSWORD)
    assert during.status_code == 429 and int(during.headers["Retry-After"]) <= wait

    clock.now += wait + 1
    assert login(client, "li", PASSWORD).status_code == 200


def test_lockouts_grow_and_are_kept_in_the_console_database_across_restarts(
        settings: RuntimeSettings, db: ConsoleDatabase, client: TestClient,
        clock: Clock) -> None:
    for _ in range(6):
        last = login(client, "li", "wrong-password")
    first_wait = int(last.headers["Retry-After"])
    clock.now += first_wait + 1
    again = login(client, "li", "wrong-password")  # the next failure after a lockout
    assert again.status_code in (401, 429)
    second = login(client, "li", PASSWORD)
    assert second.status_code == 429 and int(second.headers["Retry-After"]) > first_wait

    restarted = console_app(settings, ConsoleDatabase(settings.console_db, clock=clock))
    with TestClient(restarted, client=("192.0.2.10", 40000)) as same_source:
        assert login(same_source, "li", PASSWORD).status_code == 429


def test_one_address_trying_many_accounts_is_locked_out(app: FastAPI) -> None:
    sprayer = TestClient(app, client=("198.51.100.7", 40000))
    colleague = TestClient(app, client=("198.51.100.8", 40000))
    for n in range(5):
        assert login(sprayer, f"guess-{n}", "wrong-password").status_code == 401
    refused = login(sprayer, "li", PASSWORD)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    # The account itself was never attacked: from another address it logs in at once.
    assert login(colleague, "li", PASSWORD).status_code == 200


def test_failed_and_refused_logins_are_audited_without_the_password(
        client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    secret = f"wrong-{uuid.uuid4().hex}"
    with caplog.at_level(logging.INFO, logger="assistant.console"):
        for _ in range(6):
            login(client, "li", secret)
        login(client, "li", PASSWORD)
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("assistant.console")]
    assert lines and all(secret not in line and PASSWORD not in line for line in lines)
    audited = [line for line in lines if "'li'" in line and "192.0.2.10" in line]
    assert any("fail" in line for line in audited), lines
    assert any("lock" in line for line in audited), lines
    assert any("refused" in line for line in audited), lines


# -- 5. CSRF: origin check and a session-bound token --------------------------------------------
def test_login_from_a_foreign_origin_is_refused(settings: RuntimeSettings,
                                                db: ConsoleDatabase) -> None:
    app = console_app(settings.model_copy(update={"console_allowed_origins": PROXY_ORIGIN}), db)
    with TestClient(app) as client:
        for headers in ({"Origin": FOREIGN_ORIGIN}, {"Origin": "null"},
                        {"Referer": f"{FOREIGN_ORIGIN}/login.html"},
                        {"Origin": "http://testserver.evil.example"}):
            resp = login(client, "li", PASSWORD, **headers)
            assert resp.status_code == 403, (headers, resp.text)
            assert "来源" in resp.json()["detail"]
            assert "set-cookie" not in resp.headers
        assert login(client, "li", PASSWORD, Origin=OWN_ORIGIN).status_code == 200
        assert login(client, "li", PASSWORD, Referer=f"{OWN_ORIGIN}/").status_code == 200
        assert login(client, "li", PASSWORD, Origin=PROXY_ORIGIN).status_code == 200


def test_state_changing_requests_need_the_token_of_their_own_session(
        app: FastAPI, client: TestClient) -> None:
    other_token = logged_in(TestClient(app), "boss", ADMIN_PASSWORD)  # another browser
    token = logged_in(client)
    resolve = "/api/queue/user-1/handoff:1/resolve"
    for headers in ({}, {CSRF_HEADER: ""}, {CSRF_HEADER: "forged"},
                    {CSRF_HEADER: other_token},
                    {CSRF_HEADER: token, "Origin": FOREIGN_ORIGIN}):
        resp = client.post(resolve, headers=headers)
        assert resp.status_code == 403, (headers, resp.text)
        assert resp.json()["detail"]
    assert client.get("/api/queue").status_code != 403  # reading needs no token
    assert client.get("/api/me").headers[CSRF_HEADER] == token  # a reloaded page gets it back
    ok = client.post(resolve, headers={CSRF_HEADER: token, "Origin": OWN_ORIGIN})
    assert ok.status_code == 200, ok.text


def test_uploads_publishing_and_logout_need_the_token_too(client: TestClient) -> None:
    token = logged_in(client, "boss", ADMIN_PASSWORD)
    upload = {"files": {"file": ("x.exe", b"MZ", "application/octet-stream")},
              "data": {"doc_id": "d", "version": "v", "effective": "2026-01-01"}}
    assert client.post("/api/kb/upload", **upload).status_code == 403
    assert client.post("/api/kb/upload", **upload, headers={CSRF_HEADER: token}
                       ).status_code == 400  # past the check: refused for its file type
    assert client.post("/api/kb/publish", json={"doc_id": "d", "version": "v"}
                       ).status_code == 403
    assert client.post("/api/logout").status_code == 403
    assert client.get("/api/me").status_code == 200
    assert client.post("/api/logout", headers={CSRF_HEADER: token}).status_code == 200
    assert client.get("/api/me").status_code == 401


# -- 6. security headers and cookies --------------------------------------------------------
def assert_security_headers(resp: httpx.Response) -> None:
    where = f"{resp.request.method} {resp.request.url.path} ({resp.status_code})"
    csp = resp.headers.get("Content-Security-Policy", "")
    directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
    assert directives.get("frame-ancestors") == ["'none'"], where
    for name in ("default-src", "script-src", "style-src"):
        assert directives.get(name) == ["'self'"], (where, csp)
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp, where
    assert resp.headers.get("X-Frame-Options") == "DENY", where
    assert resp.headers.get("X-Content-Type-Options") == "nosniff", where
    assert resp.headers.get("Referrer-Policy") in ("same-origin", "no-referrer",
                                                   "strict-origin"), where


class _InlineFinder(HTMLParser):
    """Whatever a CSP without 'unsafe-inline' would block in a page."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self.scripts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag == "style":
            self.found.append("<style>")
        if tag == "script":
            src = names.get("src") or ""
            if not src:
                self.found.append("inline <script>")
            self.scripts.append(src)
        self.found += [f"{tag} {a}=" for a in names if a == "style" or a.startswith("on")]
        if (names.get("href") or "").startswith("javascript:"):
            self.found.append(f"{tag} href=javascript:")


SERVED_USERS = ("li", "zhou", "wu", "sun", "qian", "zheng", "feng")


def serve_console(var: Path, env: dict[str, str] | None = None) -> Iterator[RuntimeSettings]:
    """The real console process, as `make run` starts it, over a console database in `var`."""
    settings = RuntimeSettings().model_copy(update={
        "var_dir": var, "console_port": free_port(), "rasa_port": free_port()})
    served_db = ConsoleDatabase(settings.console_db)
    for name in SERVED_USERS:
        served_db.add_user(name, PASSWORD, "staff")
    server: ServerProcess = console_server(settings, env={"KB_HOME": str(var / "kb"),
                                                          **(env or {})})
    server.start()
    try:
        server.wait_healthy(120)
        yield settings
    finally:
        server.stop()


@pytest.fixture(scope="module")
def served_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RuntimeSettings]:
    yield from serve_console(tmp_path_factory.mktemp("served-var"))


@pytest.fixture(scope="module")
def served_console(served_settings: RuntimeSettings) -> str:
    return served_settings.console_url


def test_the_served_console_sends_security_headers_on_every_response(
        served_console: str) -> None:
    with httpx.Client(base_url=served_console, timeout=30) as http:
        page = http.get("/")
        responses = [
            page, http.get("/static/app.js"), http.get("/static/app.css"),
            http.get("/static/missing.js"), http.get("/api/health"),
            http.get("/api/openapi.json"), http.get("/api/me"), http.get("/no-such-page"),
            http.post("/api/login", json={"username": "li", "password": "wrong-password"}),
            http.post("/api/login", json={}),
            http.post("/api/login", json={"username": "li", "password": PASSWORD},
                      headers={"Origin": FOREIGN_ORIGIN}),
        ]
        assert [r.status_code for r in responses] == [
            200, 200, 200, 404, 200, 200, 401, 404, 401, 422, 403]
        for resp in responses:
            assert_security_headers(resp)
            if resp.request.url.path.startswith("/api/"):
                assert resp.headers.get("Cache-Control") == "no-store", resp.request.url

    finder = _InlineFinder()
    finder.feed(page.text)
    assert finder.found == [], f"the page needs 'unsafe-inline': {finder.found}"
    assert finder.scripts and all(s.startswith("/static/") for s in finder.scripts)


def test_the_served_console_throttles_by_the_client_address_its_proxy_reports(
        served_console: str) -> None:
    """uvicorn takes X-Forwarded-For from a proxy on loopback (FORWARDED_ALLOW_IPS)."""
    with httpx.Client(base_url=served_console, timeout=30) as http:
        for n in range(5):
            resp = http.post("/api/login", json={"username": f"ghost-{n}", "password": "x"},
                             headers={"X-Forwarded-For": "203.0.113.9"})
            assert resp.status_code == 401
        refused = http.post("/api/login", json={"username": "li", "password": PASSWORD},
                            headers={"X-Forwarded-For": "203.0.113.9"})
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
        assert_security_headers(refused)
        assert "set-cookie" not in refused.headers
        ok = http.post("/api/login", json={"username": "li", "password": PASSWORD},
                       headers={"X-Forwarded-For": "203.0.113.10"})
        assert ok.status_code == 200


def test_parallel_guesses_from_one_source_at_the_served_console_get_five_answers_at_most(
        served_console: str) -> None:
    def guess(n: int) -> int:
        with httpx.Client(base_url=served_console, timeout=60) as http:
            return http.post("/api/login", json={"username": "zhou", "password": f"guess-{n}"},
                             headers={"X-Forwarded-For": "203.0.113.99"}).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(guess, range(16)))
    assert sorted(statuses) == [401] * 5 + [429] * 11


# -- second pass, 6: no source can keep an account locked for the others ---------------------
def test_failures_from_one_source_do_not_stop_a_right_login_from_another(
        served_console: str) -> None:
    """Over HTTP, through the real console process and the proxy address it trusts."""
    attacker, colleague = {"X-Forwarded-For": "203.0.113.50"}, {"X-Forwarded-For": "198.51.100.2"}
    with httpx.Client(base_url=served_console, timeout=30) as http:
        for _ in range(8):
            http.post("/api/login", json={"username": "wu", "password": "wrong-password"},
                      headers=attacker)
        ok = http.post("/api/login", json={"username": "wu", "password": PASSWORD},
                       headers=colleague)
        assert ok.status_code == 200, ok.text
        still = http.post("/api/login", json={"username": "wu", "password": PASSWORD},
                          headers=attacker)
        assert still.status_code == 429 and int(still.headers["Retry-After"]) > 0


def test_one_failure_an_hour_does_not_keep_admin_out(app: FastAPI, clock: Clock) -> None:
    """The finding: after the first lockouts, one request an hour kept `admin` locked."""
    attacker = TestClient(app, client=("198.51.100.66", 40000))
    admin = TestClient(app, client=("192.0.2.10", 40000))
    for _ in range(6):
        login(attacker, "boss", "wrong-password")
    for _hour in range(12):
        clock.now += 3600 + 1
        login(attacker, "boss", "wrong-password")
        assert login(attacker, "boss", ADMIN_PASSWORD).status_code == 429  # still throttled
        assert login(admin, "boss", ADMIN_PASSWORD).status_code == 200, _hour


def test_distributed_guesses_guard_the_account_against_every_source_that_failed(
        served_console: str) -> None:
    """Many sources guessing one account in parallel: each new source gets its guess (so no
    source can lock the account for the others), but once the account's ceiling is reached no
    source that failed on it gets another, and the count is not overtaken by parallel
    requests. A source with no failure still signs in."""
    sources = LoginThrottle().account_max_failures + 5

    def guess(n: int) -> int:
        with httpx.Client(base_url=served_console, timeout=60) as http:
            return http.post("/api/login", json={"username": "zheng", "password": f"guess-{n}"},
                             headers={"X-Forwarded-For": f"203.0.113.{100 + n}"}).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(guess, range(sources))) == [401] * sources
        assert list(pool.map(guess, range(sources))) == [429] * sources
    with httpx.Client(base_url=served_console, timeout=30) as http:
        ok = http.post("/api/login", json={"username": "zheng", "password": PASSWORD},
                       headers={"X-Forwarded-For": "198.51.100.3"})
        assert ok.status_code == 200, ok.text


def test_the_console_takes_no_forwarded_address_from_an_untrusted_peer(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    """With a proxy configured elsewhere (FORWARDED_ALLOW_IPS), a client on loopback cannot
    pick its address: every failure counts against its real one."""
    served = serve_console(tmp_path_factory.mktemp("untrusted-var"),
                           env={"FORWARDED_ALLOW_IPS": "192.0.2.254"})
    settings = next(served)
    try:
        with httpx.Client(base_url=settings.console_url, timeout=30) as http:
            for n in range(5):
                http.post("/api/login", json={"username": f"ghost-{n}", "password": "x"},
                          headers={"X-Forwarded-For": f"203.0.113.{n}"})
            refused = http.post("/api/login", json={"username": "li", "password": PASSWORD},
                                headers={"X-Forwarded-For": "203.0.113.200"})
            assert refused.status_code == 429
    finally:
        served.close()


def test_administrators_unlock_an_account_from_the_command_line(
        served_settings: RuntimeSettings) -> None:
    source = {"X-Forwarded-For": "203.0.113.60"}
    with httpx.Client(base_url=served_settings.console_url, timeout=30) as http:
        for _ in range(6):
            http.post("/api/login", json={"username": "feng", "password": "wrong-password"},
                      headers=source)
        body = {"username": "feng", "password": PASSWORD}
        assert http.post("/api/login", json=body, headers=source).status_code == 429
        done = console_command(served_settings, "unlock", "feng", "--address", "203.0.113.60")
        assert done.returncode == 0, done.stderr
        assert "feng" in done.stdout
        assert http.post("/api/login", json=body, headers=source).status_code == 200
    assert console_command(served_settings, "unlock", "nobody").returncode != 0


def console_command(settings: RuntimeSettings, *args: str,
                    password: str = "") -> subprocess.CompletedProcess[str]:
    """`python -m assistant.console …` (what the Makefile targets run) against `settings`."""
    env = {**os.environ, "ASSISTANT_VAR_DIR": str(settings.var_dir),
           "PYTHONPATH": str(settings.root), "CONSOLE_PASSWORD": password}
    return subprocess.run([str(settings.actions_python), "-m", "assistant.console", *args],
                          env=env, capture_output=True, text=True, timeout=120,
                          cwd=settings.root)


def _session_cookie(resp: httpx.Response) -> list[str]:
    cookies = [c for c in resp.headers.get_list("set-cookie") if c.startswith("console_session=")]
    assert len(cookies) == 1, resp.headers
    return [a.strip().lower() for a in cookies[0].split(";")]


def test_the_session_cookie_as_a_browser_gets_it(served_console: str) -> None:
    body = {"username": "li", "password": PASSWORD}
    with httpx.Client(base_url=served_console, timeout=30) as http:
        plain = _session_cookie(http.post("/api/login", json=body,
                                          headers={"Origin": served_console}))
        assert {"httponly", "samesite=strict", "path=/"} <= set(plain)
        assert "secure" not in plain  # plain HTTP on loopback: the browser would drop it
        # Behind a TLS-terminating proxy on loopback (X-Forwarded-Proto), the cookie is Secure.
        proxied = http.post("/api/login", json=body, headers={
            "X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.20",
            "Origin": "https://" + served_console.split("://", 1)[1]})
        assert proxied.status_code == 200, proxied.text
        assert {"secure", "httponly", "samesite=strict"} <= set(_session_cookie(proxied))


def test_secure_cookies_can_be_forced_by_configuration(settings: RuntimeSettings,
                                                       db: ConsoleDatabase) -> None:
    app = console_app(settings.model_copy(update={"console_secure_cookies": True}), db)
    with TestClient(app) as client:
        resp = login(client, "li", PASSWORD)
        assert resp.status_code == 200
        assert "secure" in _session_cookie(resp)
        token = resp.headers.get(CSRF_HEADER, "")
        gone = client.post("/api/logout", headers={CSRF_HEADER: token})
        cleared = [a.strip().lower() for a in gone.headers["set-cookie"].split(";")]
        assert {"secure", "httponly", "samesite=strict"} <= set(cleared)


def test_server_errors_carry_the_headers_too(app: FastAPI) -> None:
    def broken() -> None:
        raise RuntimeError("boom")

    app.add_api_route("/api/broken", broken)
    with TestClient(app, raise_server_exceptions=False) as client:
        resp = client.get("/api/broken")
        assert resp.status_code == 500
        assert_security_headers(resp)


# -- second pass, 5: a password reset or change ends the account's sessions -------------------
def served_login(url: str, user: str, password: str = PASSWORD) -> tuple[httpx.Client, str]:
    """A browser of its own, signed in: its client (with the cookie) and its CSRF token."""
    http = httpx.Client(base_url=url, timeout=30)
    resp = http.post("/api/login", json={"username": user, "password": password},
                     headers={"Origin": url})
    assert resp.status_code == 200, resp.text
    return http, resp.headers[CSRF_HEADER]


def console_log(settings: RuntimeSettings) -> str:
    return (settings.log_dir / "console.log").read_text(encoding="utf-8", errors="replace")


def test_a_password_reset_from_the_command_line_ends_every_session_of_the_account(
        served_settings: RuntimeSettings) -> None:
    url = served_settings.console_url
    (first, _), (second, _) = served_login(url, "sun"), served_login(url, "sun")
    bystander, _ = served_login(url, "li")
    assert first.get("/api/me").status_code == second.get("/api/me").status_code == 200
    new_password = f"reset-{uuid.uuid4().hex[:8]}"
    done = console_command(served_settings, "add-user", "sun", password=new_password)
    assert done.returncode == 0, done.stderr
    assert first.get("/api/me").status_code == 401
    assert second.get("/api/me").status_code == 401
    assert bystander.get("/api/me").status_code == 200  # another account's session stays
    with httpx.Client(base_url=url, timeout=30) as http:
        assert http.post("/api/login", json={"username": "sun", "password": PASSWORD}
                         ).status_code == 401
        assert http.post("/api/login", json={"username": "sun", "password": new_password}
                         ).status_code == 200
    assert new_password not in done.stdout + done.stderr
    assert "'sun'" in done.stderr and "session" in done.stderr  # audited on the terminal


def test_staff_change_their_own_password_and_their_other_sessions_end(
        served_settings: RuntimeSettings) -> None:
    url = served_settings.console_url
    (here, token), (elsewhere, _) = served_login(url, "qian"), served_login(url, "qian")
    new_password = f"changed-{uuid.uuid4().hex[:8]}"
    change = {"current_password": PASSWORD, "new_password": new_password}
    own = {"Origin": url, CSRF_HEADER: token}
    assert here.post("/api/password", json=change, headers={"Origin": url}
                     ).status_code == 403  # no CSRF token
    wrong = here.post("/api/password", json={**change, "current_password": "wrong-password"},
                      headers=own)
    assert wrong.status_code == 403 and "当前密码" in wrong.json()["detail"]
    short = here.post("/api/password", json={**change, "new_password": "short"}, headers=own)
    assert short.status_code in (400, 422) and "8" in short.json()["detail"]
    assert elsewhere.get("/api/me").status_code == 200  # refused changes changed nothing

    done = here.post("/api/password", json=change, headers=own)
    assert done.status_code == 200, done.text
    assert here.get("/api/me").status_code == 200  # this session goes on
    assert elsewhere.get("/api/me").status_code == 401  # every other one ended
    with httpx.Client(base_url=url, timeout=30) as http:
        assert http.post("/api/login", json={"username": "qian", "password": PASSWORD}
                         ).status_code == 401
        assert http.post("/api/login", json={"username": "qian", "password": new_password}
                         ).status_code == 200
    logged = console_log(served_settings)
    assert "'qian' changed their password" in logged and new_password not in logged


def test_staff_sign_out_their_other_sessions(served_settings: RuntimeSettings) -> None:
    url = served_settings.console_url
    (here, token), (phone, _) = served_login(url, "li"), served_login(url, "li")
    (tablet, _), (colleague, _) = served_login(url, "li"), served_login(url, "zhou")
    assert here.post("/api/logout-others", headers={"Origin": url}).status_code == 403
    done = here.post("/api/logout-others", headers={"Origin": url, CSRF_HEADER: token})
    assert done.status_code == 200, done.text
    assert done.json()["signed_out"] >= 2
    assert here.get("/api/me").status_code == 200
    assert phone.get("/api/me").status_code == tablet.get("/api/me").status_code == 401
    assert colleague.get("/api/me").status_code == 200
    assert "'li' signed out" in console_log(served_settings)


def test_wrong_current_passwords_are_throttled_like_logins(client: TestClient) -> None:
    token = logged_in(client)
    for _ in range(5):
        client.post("/api/password", json={"current_password": "wrong-password",
                                           "new_password": "a-new-password"},
                    headers={CSRF_HEADER: token})
    refused = client.post("/api/password", json={"current_password": PASSWORD,
                                                 "new_password": "a-new-password"},
                          headers={CSRF_HEADER: token})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0


# -- second pass, 11: small leaks ----------------------------------------------------------------
def test_anonymous_callers_learn_only_whether_the_console_is_up(
        served_settings: RuntimeSettings) -> None:
    url = served_settings.console_url
    with httpx.Client(base_url=url, timeout=30) as http:
        health, ready = http.get("/api/health"), http.get("/api/ready")
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    assert ready.status_code == 503 and ready.json() == {"ready": False}  # no Rasa behind it
    staff, _ = served_login(url, "zhou")
    details = staff.get("/api/health").json()
    assert details["status"] == "ok" and details["rasa"] == served_settings.rasa_url
    checks = staff.get("/api/ready").json()["checks"]
    assert checks["rasa"]["status"] == "failed" and checks["database"]["status"] == "ok"


def _is_plain_chinese(detail: object) -> bool:
    """Chinese, and without English words, paths or commands (a unit like "MB" may stay)."""
    return (isinstance(detail, str) and re.search(r"[\u4e00-\u9fff]", detail) is not None
            and re.search(r"[A-Za-z]{3,}|/|--", detail) is None)


def test_every_error_a_client_gets_from_the_console_is_chinese_without_internal_hints(
        served_console: str) -> None:
    staff, token = served_login(served_console, "zhou")
    own = {"Origin": served_console, CSRF_HEADER: token}
    with httpx.Client(base_url=served_console, timeout=30) as http:
        errors = [
            http.get("/no-such-page"), http.get("/api/no-such-route"),
            http.get("/static/missing.js"), http.get("/api/login"),
            http.post("/api/login", json={}), http.post("/api/login", content=b"not json"),
            http.get("/api/kb/documents"),
            staff.get("/api/kb/documents/no-such-document/diff", params={"old": "1", "new": "2"}),
            staff.get("/api/kb/documents/no-such-document/diff"),
            staff.get("/api/kb/jobs/no-such-job"),
            staff.post("/api/kb/publish", json={"doc_id": "x", "version": "1"}, headers=own),
        ]
    statuses = [r.status_code for r in errors]
    assert statuses == [404, 404, 404, 405, 422, 422, 401, 404, 422, 404, 403], statuses
    for resp in errors:
        detail = resp.json().get("detail")
        assert _is_plain_chinese(detail), (resp.request.url, resp.status_code, detail)


def test_a_server_error_reaches_the_client_in_chinese_without_the_cause(app: FastAPI) -> None:
    def broken() -> None:
        raise RuntimeError("boom at /srv/secret/path")

    app.add_api_route("/api/broken", broken)
    with TestClient(app, raise_server_exceptions=False) as client:
        resp = client.get("/api/broken")
    assert resp.status_code == 500 and _is_plain_chinese(resp.json()["detail"])
    assert resp.headers.get("Cache-Control") == "no-store"
