"""Processes, secrets and internal endpoints (issue 17, findings 3, 11 and 12).

- 3: the Rasa API token is on no command line (`ps`) and in no log, and the log and data files
  are readable by their owner only;
- 11: the action server runs actions only for a caller that presents the shared secret, and
  listens on loopback unless told otherwise; the scaled profile's Rasa sends the secret;
- 12: the metrics and readiness pages of every service hold no sender id and no message text.

The real servers come from tests/live_servers.py (session fixtures); the console is started
as its own process here, as the supervisor starts it, so that its log is the real one.
"""

from __future__ import annotations

import json
import logging
import os
import re
import stat
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from assistant.console.users import ConsoleDatabase
from assistant.scaleout.ports import free_port, listeners, port_holders
from assistant.servers import ServerProcess, action_server, console_server
from assistant.settings import RuntimeSettings
from tests.live_servers import Assistant

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CONSOLE_PASSWORD = "security-console-pass"
CONSOLE_USER = "security-auditor"
POLICY_QUESTION = "审批有没有绿色通道？"
ACTION_TOKEN_HEADER = "X-Action-Token"


# -- processes and sockets, from /proc ---------------------------------------------------------


def pids_listening_on(port: int) -> set[int]:
    return {pid for pid, _ in port_holders(port)}


def process_group(pgid: int) -> list[int]:
    """Every live process of a process group (the supervisor starts each server in its own)."""
    members = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(proc.name))
    return members


def cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


# -- finding 3: the Rasa API token ---------------------------------------------------------------


@pytest.fixture(scope="module")
def console(assistant: Assistant, kb_home: Path) -> Iterator[tuple[RuntimeSettings, httpx.Client]]:
    """The console as its own process (as `make run` starts it), logged in as admin."""
    settings = assistant.settings.model_copy(update={"console_port": free_port()})
    server = console_server(settings, env={"KB_HOME": str(kb_home)})
    server.start()
    try:
        server.wait_healthy(120)
        # The session's var/ is shared with other suites, whose console may have created
        # `admin` first: this test's own account, in the database the console created (with
        # the modes under test, so it is added only once the console is up).
        ConsoleDatabase(settings.console_db, settings.session_hours).add_user(
            CONSOLE_USER, CONSOLE_PASSWORD, "admin")
        with httpx.Client(base_url=settings.console_url, timeout=60,
                          headers={"Origin": settings.console_url}) as client:
            resp = client.post("/api/login", json={"username": CONSOLE_USER,
                                                   "password": CONSOLE_PASSWORD})
            assert resp.status_code == 200, resp.text
            csrf = resp.headers.get("X-CSRF-Token")  # the console's CSRF token, when it has one
            if csrf:
                client.headers["X-CSRF-Token"] = csrf
            yield settings, client
    finally:
        server.stop()


@pytest.fixture(scope="module")
def console_used_rasas_api(assistant: Assistant,
                           console: tuple[RuntimeSettings, httpx.Client]) -> str:
    """A conversation taken over and handed back in the console: two calls of Rasa's HTTP API
    with the token. Returns the conversation's sender id."""
    sender = f"sec-{uuid.uuid4().hex[:8]}"
    assistant.send(sender, POLICY_QUESTION)
    _, client = console
    for step in ("takeover", "release"):
        resp = client.post(f"/api/conversations/{sender}/{step}")
        assert resp.status_code == 200, resp.text
    time.sleep(1.5)  # log lines are flushed as written; leave a moment for the last ones
    return sender


def test_the_rasa_api_token_is_on_no_command_line(assistant: Assistant,
                                                   rasa_server_process: ServerProcess) -> None:
    token = assistant.settings.rasa_api_token
    assert rasa_server_process.process is not None
    group = process_group(rasa_server_process.process.pid)
    assert group, "the Rasa server runs no process"
    assert [pid for pid in group if token in cmdline(pid)] == []
    ps = subprocess.run(["ps", "-eww", "-o", "pid,args"], capture_output=True, text=True).stdout
    assert token not in ps
    # ...and the server still takes the token: the HTTP API answers with it, refuses without
    url = f"{assistant.settings.rasa_url}/conversations/nobody/tracker"
    assert assistant.client.get(url, params={"token": token}).status_code == 200
    assert assistant.client.get(url).status_code == 401


def test_no_log_holds_the_rasa_api_token(assistant: Assistant,
                                         console_used_rasas_api: str) -> None:
    token = assistant.settings.rasa_api_token
    logs = sorted(assistant.settings.log_dir.glob("*.log"))
    assert {p.name for p in logs} >= {"rasa-server.log", "action-server.log", "console.log"}
    holding = {p.name: p.read_text(errors="replace").count(token) for p in logs}
    assert {name: n for name, n in holding.items() if n} == {}
    # the console did call Rasa's API (its log shows the calls, with the token redacted)
    console_log = (assistant.settings.log_dir / "console.log").read_text(errors="replace")
    assert "takes over" in console_log


def test_log_and_data_files_are_readable_by_their_owner_only(
        assistant: Assistant, console_used_rasas_api: str) -> None:
    settings = assistant.settings

    def mode(path: Path) -> str:
        return oct(stat.S_IMODE(path.stat().st_mode))

    dirs = {p: mode(p) for p in (settings.log_dir, settings.tracker_db.parent,
                                 settings.console_db.parent)}
    assert {str(p): m for p, m in dirs.items() if m != "0o700"} == {}
    files = [*settings.log_dir.glob("*.log"), settings.tracker_db, settings.console_db]
    loose = {str(p): mode(p) for p in files if stat.S_IMODE(p.stat().st_mode) & 0o077}
    assert loose == {}


# -- the redaction every process installs (pure) ------------------------------------------------


@pytest.mark.parametrize(("text", "secret"), [
    ('HTTP Request: POST http://127.0.0.1:5005/conversations/x/tracker/events?token=abc123'
     '&include_events=NONE "HTTP/1.1 200 OK"', "abc123"),
    ("GET https://api.weixin.qq.com/cgi-bin/message/custom/send?access_token=WX-tok_9", "WX-tok_9"),
    ("headers={'Authorization': 'Bearer eyJhbGciOi.J9'}", "eyJhbGciOi.J9"),
    ("Authorization: Basic dXNlcjpwYXNz", "dXNlcjpwYXNz"),
    ("X-Action-Token: 5f0c2a9e", "5f0c2a9e"),
    ("postgresql://assistant:s3cretpw@127.0.0.1:55432/rasa", "s3cretpw"),
])
def test_secrets_in_urls_and_headers_are_redacted(text: str, secret: str) -> None:
    from observability.redaction import REDACTED, redact

    out = redact(text)
    assert secret not in out and REDACTED in out, out
    assert redact(out) == out


def test_the_filter_redacts_arguments_of_any_type_and_leaves_other_records_alone() -> None:
    from observability.redaction import RedactingFilter

    class Url:
        def __str__(self) -> str:
            return "http://h/x?token=zzz111"

    record = logging.LogRecord("httpx", logging.INFO, __file__, 1, 'HTTP Request: %s %s "%s"',
                               ("POST", Url(), "HTTP/1.1 200 OK"), None)
    assert RedactingFilter().filter(record)
    assert "zzz111" not in record.getMessage() and "POST" in record.getMessage()
    plain = logging.LogRecord("x", logging.INFO, __file__, 1, "%s %d turns", ("owner", 3), None)
    RedactingFilter().filter(plain)
    assert plain.args == ("owner", 3)


def test_installed_redaction_covers_loggers_and_handlers_configured_later(
        caplog: pytest.LogCaptureFixture) -> None:
    from observability.redaction import install

    install(secrets=["literal-secret-value"])
    install()  # idempotent
    late = logging.getLogger(f"late.{uuid.uuid4().hex}")
    with caplog.at_level(logging.INFO):
        late.info("calling %s with literal-secret-value", "http://h/p?token=qqq")
        try:
            raise RuntimeError("failed: http://h/p?token=qqq")
        except RuntimeError:
            late.exception("boom")
    text = caplog.text
    assert "qqq" not in text and "literal-secret-value" not in text, text
    assert "boom" in text


# -- finding 11: internal services -------------------------------------------------------------


def test_the_embedded_action_server_listens_on_loopback_whatever_the_public_host(
        runtime: RuntimeSettings) -> None:
    spec = action_server(runtime.model_copy(update={"host": "0.0.0.0"}))
    assert spec.env["SANIC_HOST"] == "127.0.0.1"
    assert spec.health_url.startswith("http://127.0.0.1:")


@pytest.fixture(scope="module")
def guarded_action_server(runtime: RuntimeSettings, kb_home: Path) -> Iterator[ServerProcess]:
    """`python -m action_server` with a shared secret and no SANIC_HOST, as a deployment that
    forgot to set the host would run it."""
    settings = runtime.model_copy(update={"action_port": free_port(),
                                          "var_dir": runtime.var_dir / "guarded"})
    server = action_server(settings, env={"KB_HOME": str(kb_home),
                                          "ACTION_SERVER_TOKEN": "guard-secret-1"})
    server.env.pop("SANIC_HOST")
    saved = os.environ.pop("SANIC_HOST", None)
    try:
        server.start()
    finally:
        if saved is not None:
            os.environ["SANIC_HOST"] = saved
    try:
        server.wait_healthy(120)
        yield server
    finally:
        server.stop()


def _action_call(action: str = "action_no_such_action") -> dict:
    return {"next_action": action, "sender_id": "intruder", "version": "3.6.21",
            "domain": {}, "tracker": {"sender_id": "intruder", "slots": {}, "events": [],
                                      "latest_message": {}, "paused": False,
                                      "followup_action": None, "active_loop": {},
                                      "latest_action_name": None}}


def test_the_action_server_listens_on_loopback_by_default(
        guarded_action_server: ServerProcess) -> None:
    port = int(guarded_action_server.cmd[guarded_action_server.cmd.index("--port") + 1])
    assert listeners(port) == {"127.0.0.1"}


def test_the_action_server_runs_actions_only_for_callers_with_the_secret(
        guarded_action_server: ServerProcess) -> None:
    base = guarded_action_server.health_url.rsplit("/", 1)[0]
    with httpx.Client(base_url=base, timeout=30) as client:
        for headers in ({}, {ACTION_TOKEN_HEADER: "wrong"}, {ACTION_TOKEN_HEADER: ""},
                        {"Authorization": "Bearer guard-secret-1"}):
            assert client.post("/webhook", json=_action_call(), headers=headers
                               ).status_code == 401, headers
            assert client.get("/actions", headers=headers).status_code == 401
        good = {ACTION_TOKEN_HEADER: "guard-secret-1"}
        # past the guard: rasa-sdk itself answers (an unknown action is its 404)
        assert client.post("/webhook", json=_action_call(), headers=good).status_code == 404
        assert client.get("/actions", headers=good).status_code == 200
        # liveness, readiness and metrics stay open for probes and Prometheus
        for path in ("/health", "/metrics", "/ready"):
            assert client.get(path).status_code in (200, 503), path


@pytest.mark.parametrize("endpoints", ["endpoints.yml", "endpoints-scaled.yml"])
def test_rasa_sends_the_secret_with_every_action_call(tmp_path: Path, endpoints: str) -> None:
    """Both profiles' endpoints files (the embedded one since issue 26, finding 9; `make shell`
    runs a plain Rasa against it too)."""
    probe = (
        "import json, sys\n"
        "from rasa.core.utils import read_endpoints_from_path\n"
        "e = read_endpoints_from_path(sys.argv[1])\n"
        "print('PROBE ' + json.dumps({'url': e.action.url, 'headers': e.action.headers}))\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ACTION_ENDPOINT_URL": "http://127.0.0.1:9/w",
           "ACTION_SERVER_TOKEN": "scaled-secret-7", "POSTGRES_HOST": "127.0.0.1",
           "POSTGRES_PORT": "1", "POSTGRES_DB": "d", "POSTGRES_USER": "u",
           "POSTGRES_PASSWORD": "p", "REDIS_HOST": "127.0.0.1", "REDIS_PORT": "1",
           "REDIS_DB": "1", "TRACKER_DB": str(tmp_path / "tracker.db")}
    done = subprocess.run([str(ROOT / ".venv-rasa/bin/python"), "-c", probe,
                           str(ROOT / endpoints)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=180)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("PROBE ")]
    assert lines, done.stdout + done.stderr
    action = json.loads(lines[-1][len("PROBE "):])
    assert action["headers"] == {ACTION_TOKEN_HEADER: "scaled-secret-7"}


@pytest.mark.parametrize("profile", ["embedded", "scaled"])
def test_each_profile_gives_rasa_and_the_action_servers_the_same_secret(
        runtime: RuntimeSettings, profile: str) -> None:
    from assistant.servers import rasa_server

    settings = runtime.model_copy(update={"profile": profile})
    rasa = rasa_server(settings, ROOT / "models")
    actions = action_server(settings)
    secret = actions.env.get("ACTION_SERVER_TOKEN", "")
    assert len(secret) >= 32 and rasa.env.get("ACTION_SERVER_TOKEN") == secret
    assert secret not in " ".join(rasa.cmd + actions.cmd)


def test_the_embedded_action_server_runs_actions_only_for_rasa(
        assistant: Assistant, action_server_process: ServerProcess) -> None:
    """Issue 26, finding 9: any local process could run actions in the embedded profile."""
    with httpx.Client(base_url=assistant.settings.action_url, timeout=30) as client:
        for headers in ({}, {ACTION_TOKEN_HEADER: "wrong"}):
            assert client.post("/webhook", json=_action_call(), headers=headers
                               ).status_code == 401, headers
            assert client.get("/actions", headers=headers).status_code == 401
        good = {ACTION_TOKEN_HEADER: assistant.settings.action_server_token}
        assert client.post("/webhook", json=_action_call(), headers=good).status_code == 404
    # Rasa's own calls carry the secret: a policy question is answered by the action, cited
    reply = assistant.reply(f"sec-{uuid.uuid4().hex[:8]}", POLICY_QUESTION)
    assert "——出自《" in reply, reply


# -- finding 12: metrics and health hold no user data -------------------------------------------


def test_metrics_and_readiness_pages_hold_no_sender_id_or_message_text(
        assistant: Assistant, console: tuple[RuntimeSettings, httpx.Client]) -> None:
    sender = f"owner-private-{uuid.uuid4().hex[:10]}"
    messages = [POLICY_QUESTION, "我们厂在石家庄藁城区，电话13912345678，能不能不停产",
                "帮我看看我们企业属于哪一类", "不清楚", "转人工"]
    for text in messages:
        assistant.send(sender, text)
    console_settings, _ = console
    base, actions = assistant.settings.rasa_url, assistant.settings.action_url
    pages = {
        "rasa metrics": f"{base}/webhooks/ops/metrics", "rasa ready": f"{base}/webhooks/ops/ready",
        "rasa live": f"{base}/", "action metrics": f"{actions}/metrics",
        "action ready": f"{actions}/ready", "action live": f"{actions}/health",
        "console live": f"{console_settings.console_url}/api/health",
        "console ready": f"{console_settings.console_url}/api/ready",
    }
    needles = [sender, *messages, "13912345678", "藁城", "石家庄"]
    found = {}
    for name, url in pages.items():
        body = assistant.client.get(url).text
        assert body, name
        hits = [n for n in needles if n in body]
        if hits:
            found[name] = hits
    assert found == {}
    # the scraped pages did see the turns (they are not simply empty)
    assert re.search(r'assistant_turns_total\{channel="rest"\} [1-9]',
                     assistant.client.get(pages["rasa metrics"]).text)
