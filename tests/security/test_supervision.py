"""Supervision (issue 17, finding 13): a crashed server is restarted while the others serve.

Through README's own command, `make run` (and `make run PROFILE=scaled`), with this test's
var/ directory, knowledge base and free ports in the environment (assistant/settings.py names
them); `make run`'s install, ingest and model steps are no-ops when up to date. Under a light
load of REST turns each kind of server process is killed, with SIGTERM (a clean exit nobody
asked for) and SIGKILL (a crash: no handler runs, and Sanic's worker processes are left
behind unless the supervisor kills the whole process group), and every turn is accounted for:

- answered: a real reply;
- polite: the channel's "请稍后再试" reply (the action server was down: embedded only);
- error: an HTTP error or a connection cut mid-turn: allowed only for turns in flight at a kill;
- lost: no reply within a minute: never allowed.

A turn refused at connect (Rasa down, embedded only) never reached a server and is sent
again, as a client would; it counts as retried. Ctrl-C (SIGINT to make's process group, as a
terminal sends it) must then stop everything, leaving no process and no port behind.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from assistant.scaleout.ports import free_port, free_ports_from, listeners
from assistant.servers import rasa_server
from assistant.settings import RuntimeSettings
from tests.live_servers import trained_model
from tests.security.test_processes import pids_listening_on, process_group

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = ["审批有没有绿色通道？", "重污染天气预警提前几天发布？", "绩效A级企业要不要错峰生产？"]
CITED = "——出自《"
POLITE = "请稍后再试"
_NOT_THE_USERS = re.compile(
    r"^(WECHAT_|CONSOLE_|KB_|ASSISTANT_|RASA_|ACTION_|POSTGRES_|REDIS_|SCALE_|SANIC_|PYTEST_"
    r"|MAKE|MFLAGS$|PYTHONPATH$|TRACKER_DB$|SHELL_PORT$|TICKET_LOCK_LIFETIME$)")


# -- make run ----------------------------------------------------------------------------------


class MakeRun:
    """`make run ...` in its own session, its output collected line by line."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(["make", "run", *args], cwd=ROOT, env=env, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in iter(self.proc.stdout.readline, ""):
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, pattern: str, timeout: float, since: int = 0) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, "".join(self.lines[since:]))
            if found:
                return found
            if self.proc.poll() is not None:
                self._reader.join(5)
                found = re.search(pattern, "".join(self.lines[since:]))
                if found:
                    return found
                raise AssertionError(f"make run exited with {self.proc.returncode} before "
                                     f"{pattern!r}:\n{self.output[-5000:]}")
            time.sleep(0.3)
        raise AssertionError(f"no {pattern!r} within {timeout:.0f} s:\n{self.output[-5000:]}")

    def interrupt(self, timeout: float = 120) -> int:
        """Ctrl-C in the terminal: SIGINT to the whole foreground process group."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            raise AssertionError(f"make run did not stop on SIGINT within {timeout:.0f} s:\n"
                                 + self.output[-5000:]) from None
        finally:
            self._reader.join(10)

    def kill_group(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def user_env(var: Path, kb_home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not _NOT_THE_USERS.match(k)}
    env.update(ASSISTANT_VAR_DIR=str(var), KB_HOME=str(kb_home), **extra)
    return env


def make_blocker() -> str | None:
    """Why `make run` would install or train here (minutes): then the test is skipped."""
    done = subprocess.run(["make", "-q", "install"], cwd=ROOT, capture_output=True)
    if done.returncode != 0:
        return "`make install` is not up to date (the runtimes would be installed)"
    return None


def strays(var: Path) -> list[str]:
    """Processes still running with this test's var/ in their environment."""
    marker = f"ASSISTANT_VAR_DIR={var}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if marker in (proc / "environ").read_bytes().split(b"\0"):
                state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":
                    found.append(f"{proc.name}: {(proc / 'cmdline').read_bytes()[:120]!r}")
        except OSError:
            continue
    return found


# -- the load ----------------------------------------------------------------------------------


@dataclass
class Turn:
    sender: str
    started: float
    ended: float = 0.0
    outcome: str = ""  # answered, polite, error, lost
    retried: int = 0
    detail: str = ""


@dataclass
class Load:
    """A few simulated owners sending policy questions one after another."""

    url: str
    users: int = 2
    pause: float = 0.3
    turns: list[Turn] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> Load:
        for n in range(self.users):
            thread = threading.Thread(target=self._user, args=(n,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> list[Turn]:
        self._stop.set()
        for thread in self._threads:
            thread.join(120)
        return self.turns

    def _user(self, n: int) -> None:
        timeout = httpx.Timeout(60, connect=2)
        with httpx.Client(timeout=timeout) as client:
            k = 0
            while not self._stop.is_set():
                sender = f"sup-{os.getpid()}-{n}-{k // 4}"  # a new owner every 4 turns
                self.turns.append(self._turn(client, sender, QUESTIONS[k % len(QUESTIONS)]))
                k += 1
                time.sleep(self.pause)

    def _turn(self, client: httpx.Client, sender: str, text: str) -> Turn:
        turn = Turn(sender, time.monotonic())
        give_up = turn.started + 240
        while True:
            try:
                resp = client.post(self.url, json={"sender": sender, "message": text})
            except httpx.ConnectError as exc:  # refused: never reached a server; send again
                if time.monotonic() > give_up:
                    turn.outcome, turn.detail = "lost", f"refused for 240 s: {exc}"
                    break
                turn.retried += 1
                time.sleep(0.5)
                continue
            except httpx.TimeoutException as exc:
                turn.outcome, turn.detail = "lost", repr(exc)
                break
            except httpx.HTTPError as exc:
                turn.outcome, turn.detail = "error", repr(exc)
                break
            if resp.status_code != 200:
                turn.outcome, turn.detail = "error", f"HTTP {resp.status_code}"
            else:
                reply = "\n".join(m.get("text", "") for m in resp.json())
                turn.outcome = "polite" if POLITE in reply or not reply else "answered"
                turn.detail = reply[:60]
            break
        turn.ended = time.monotonic()
        return turn


# -- killing and accounting ---------------------------------------------------------------------


@dataclass
class Kill:
    name: str
    port: int
    sig: int
    at: float = 0.0
    back_at: float = 0.0
    leader: int = 0
    old_group: list[int] = field(default_factory=list)
    new_leader: int = 0


def leader_on(port: int) -> int:
    pids = pids_listening_on(port)
    assert pids, f"nothing listens on {port}"
    return os.getpgid(min(pids))


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        time.sleep(0.3)


def healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def kill_and_wait(run: MakeRun, kills: list[Kill], health: dict[str, str],
                  timeout: float = 240) -> None:
    """Kills the leaders of `kills` at once, then waits until the supervisor has restarted
    every one: a new leader on its port, healthy, and none of the old group alive."""
    for kill in kills:
        kill.leader = leader_on(kill.port)
        kill.old_group = process_group(kill.leader)
    mark = len(run.lines)
    now = time.monotonic()
    for kill in kills:
        os.kill(kill.leader, kill.sig)  # the main process only, as a crash or `kill PID`
        kill.at = now
    for kill in kills:
        run.wait_for(rf"{kill.name}.*restart", timeout, since=mark)
    for kill in kills:
        wait_until(lambda k=kill: not process_group(k.leader), 30,
                   f"{kill.name}: every process of the killed group gone")
        wait_until(lambda k=kill: bool(pids_listening_on(k.port)) and healthy(health[k.name]),
                   timeout, f"{kill.name} back")
        kill.back_at = time.monotonic()
        kill.new_leader = leader_on(kill.port)
        assert kill.new_leader not in kill.old_group


def supervision_lines(run: MakeRun) -> str:
    return "".join(line for line in run.lines
                   if re.search(r"stopped unexpectedly|is up again|restarted \(pid", line))


def classify(turns: list[Turn], kills: list[Kill]) -> dict[str, int]:
    in_flight = [t for t in turns if any(t.started <= k.at <= t.ended for k in kills)]
    return {"sent": len(turns), "in_flight": len(in_flight),
            **{o: sum(t.outcome == o for t in turns)
               for o in ("answered", "polite", "error", "lost")},
            "retried": sum(t.retried > 0 for t in turns)}


def check_turns(turns: list[Turn], kills: list[Kill], polite_while_down: set[str]) -> None:
    """No turn lost; errors only in flight at a kill; polite replies only while a server named
    in `polite_while_down` was down; every turn begun after the last restart answered."""
    def in_flight(t: Turn) -> bool:
        return any(t.started - 0.5 <= k.at <= t.ended + 0.5 for k in kills)

    def while_down(t: Turn) -> bool:
        return any(k.name in polite_while_down and t.started <= k.back_at + 2
                   and t.ended >= k.at for k in kills)

    story = timeline(turns, kills)
    assert [t for t in turns if t.outcome == "lost"] == [], story
    assert [t for t in turns if t.outcome == "error" and not in_flight(t)] == [], story
    assert [t for t in turns if t.outcome == "polite"
            and not (in_flight(t) or while_down(t))] == [], story
    last = max(k.back_at for k in kills)
    after = [t for t in turns if t.started > last + 2]
    assert after, f"no turn after the restart\n{story}"
    assert [t for t in after if t.outcome != "answered"] == [], story


def timeline(turns: list[Turn], kills: list[Kill]) -> str:
    """Each turn and kill in seconds from the first kill, for a failure's message."""
    zero = min(k.at for k in kills)
    lines = [f"kill {k.name} {signal.Signals(k.sig).name} at 0.0, back at "
             f"{k.back_at - zero:.1f}" for k in kills]
    lines += [f"{t.started - zero:7.1f} .. {t.ended - zero:7.1f} {t.outcome:8} retried "
              f"{t.retried} {t.detail[:40]!r}" for t in turns]
    return "\n".join(lines)


# -- the embedded profile, through `make run` ----------------------------------------------------


@pytest.fixture()
def embedded_env(tmp_path: Path, kb_home: Path) -> tuple[dict[str, str], dict[str, int], Path]:
    blocker = make_blocker()
    if blocker:
        pytest.skip(blocker)
    ports = {"RASA_PORT": free_port(), "ACTION_PORT": free_port(), "CONSOLE_PORT": free_port()}
    var = tmp_path / "var"
    return user_env(var, kb_home, **{k: str(v) for k, v in ports.items()}), ports, var


def test_make_run_restarts_each_crashed_server_while_the_others_serve(
        embedded_env: tuple[dict[str, str], dict[str, int], Path]) -> None:
    env, ports, var = embedded_env
    run = MakeRun([], env)
    load = None
    report: dict[str, dict[str, int]] = {}
    token_file = var / "run" / "action-server.token"
    try:
        run.wait_for("assistant is up", 420)
        # the action server's secret, left for `make shell`: the owner's only, and it opens
        # the action server (which refuses a caller without it)
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        actions = f"http://127.0.0.1:{ports['ACTION_PORT']}"
        assert httpx.get(f"{actions}/actions", timeout=30).status_code == 401
        assert httpx.get(f"{actions}/actions", timeout=30, headers={
            "X-Action-Token": token_file.read_text(encoding="utf-8")}).status_code == 200
        health = {
            "rasa server": f"http://127.0.0.1:{ports['RASA_PORT']}/",
            # back for users once ready (index loaded), not merely live
            "action server": f"http://127.0.0.1:{ports['ACTION_PORT']}/ready",
            "staff console": f"http://127.0.0.1:{ports['CONSOLE_PORT']}/api/health",
        }
        port_of = {"rasa server": ports["RASA_PORT"], "action server": ports["ACTION_PORT"],
                   "staff console": ports["CONSOLE_PORT"]}
        rounds = [
            [("action server", signal.SIGKILL), ("staff console", signal.SIGKILL)],
            [("action server", signal.SIGTERM), ("staff console", signal.SIGTERM)],
            [("rasa server", signal.SIGKILL)],
            [("rasa server", signal.SIGTERM)],
        ]
        for plan in rounds:
            others = {n: leader_on(p) for n, p in port_of.items()
                      if n not in {name for name, _ in plan}}
            load = Load(f"http://127.0.0.1:{ports['RASA_PORT']}/webhooks/rest/webhook").start()
            time.sleep(3)
            kills = [Kill(name, port_of[name], sig) for name, sig in plan]
            kill_and_wait(run, kills, health)
            time.sleep(8)
            turns = load.stop()
            load = None
            label = " + ".join(f"{k.name} {signal.Signals(k.sig).name}" for k in kills)
            report[label] = classify(turns, kills)
            print(label, report[label])
            # the others kept serving: same processes as before the kill
            assert {n: leader_on(port_of[n]) for n in others} == others, label
            check_turns(turns, kills, polite_while_down={"action server"})
        status = (var / "run" / "supervisor.prom").read_text()
        for slug, restarts in (("rasa-server", 2), ("action-server", 2), ("console", 2)):
            assert re.search(
                rf'assistant_supervisor_restarts_total\{{process="{slug}"\}} {restarts}\b',
                status), status
        assert re.search(r"restarting .*action server|action server.*restart", run.output)
    finally:
        if load is not None:
            load.stop()
        code = run.interrupt()
        print("kill report:", report)
        print(supervision_lines(run))
    assert code in (0, 130, 2, -signal.SIGINT), run.output[-3000:]
    assert {name: listeners(port) for name, port in ports.items() if listeners(port)} == {}
    assert strays(var) == []
    assert not token_file.exists()  # a stopped run leaves no secret behind


def test_make_run_names_a_port_already_taken(
        embedded_env: tuple[dict[str, str], dict[str, int], Path]) -> None:
    env, ports, var = embedded_env
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", ports["ACTION_PORT"]))
        holder.listen()
        run = MakeRun([], env)
        try:
            code = run.proc.wait(240)
        except subprocess.TimeoutExpired:
            run.kill_group()
            raise AssertionError("make run did not stop: " + run.output[-3000:]) from None
        run._reader.join(10)
    out = run.output
    assert code != 0
    assert f"port {ports['ACTION_PORT']}" in out and "already in use" in out, out[-3000:]
    assert f"pid {os.getpid()}" in out, out[-3000:]  # names the process holding it
    assert "assistant is up" not in out
    assert strays(var) == []


# -- a stopping Rasa server and its clients' kept-alive connections ------------------------------


class HeldActionServer:
    """A stand-in action server that holds the action calls of chosen senders until the test
    releases them, so that a turn is in flight exactly when the test wants it. Every call is
    answered with one text reply (Rasa's action protocol)."""

    def __init__(self) -> None:
        self.arrived: queue.Queue[str] = queue.Queue()
        self.gates: dict[str, threading.Event] = {}
        held = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                call = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                sender = call.get("sender_id", "")
                held.arrived.put(sender)
                gate = held.gates.get(sender)
                if gate is not None:
                    gate.wait(180)
                body = json.dumps({"events": [], "responses": [{"text": f"held {sender}"}]})
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body.encode())))
                    self.end_headers()
                    self.wfile.write(body.encode())
                except OSError:
                    pass  # Rasa has gone (the held call of a stopped server)

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def hold(self, sender: str) -> threading.Event:
        self.gates[sender] = threading.Event()
        return self.gates[sender]

    def close(self) -> None:
        for gate in self.gates.values():
            gate.set()
        self.server.shutdown()
        self.server.server_close()


def test_a_stopping_rasa_server_answers_the_turn_in_flight_and_takes_no_new_one(
        runtime: RuntimeSettings, tmp_path: Path) -> None:
    """Issue 26, finding 12: under load, a turn sent 15 s after Rasa got SIGTERM failed with
    "Server disconnected without sending a response". Sanic (21.12, Rasa's) stops listening at
    SIGTERM but, for up to GRACEFUL_SHUTDOWN_TIMEOUT (15 s), keeps serving the keep-alive
    connections that were busy at the signal; a client's pooled connection thus carried its
    next turns to the dying server, and the turn in flight at the deadline was cut. Here the
    turn in flight at the signal must be answered, and the client's next turn must find no
    server (refused at connect: a client sends it again, to the restarted server)."""
    actions = HeldActionServer()
    settings = runtime.model_copy(update={"rasa_port": free_port(), "action_port": actions.port,
                                          "var_dir": tmp_path / "var"})
    rasa = rasa_server(settings, trained_model())
    url = f"{settings.rasa_url}/webhooks/rest/webhook"
    try:
        rasa.start()
        rasa.wait_healthy(300)
        with httpx.Client(timeout=httpx.Timeout(120, connect=5)) as client:
            assert client.post(url, json={"sender": "warm", "message": QUESTIONS[0]}
                               ).status_code == 200  # the pool now holds a connection
            gate_a = actions.hold("in-flight")
            actions.hold("after-the-signal")  # never released: it would outlive the grace
            first: dict[str, httpx.Response | Exception] = {}

            def turn_in_flight() -> None:
                try:
                    first["a"] = client.post(url, json={"sender": "in-flight",
                                                        "message": QUESTIONS[0]})
                except httpx.HTTPError as exc:
                    first["a"] = exc

            sender_thread = threading.Thread(target=turn_in_flight)
            sender_thread.start()
            while actions.arrived.get(timeout=120) != "in-flight":
                pass  # the turn is inside Rasa, waiting for its action
            assert rasa.process is not None
            os.kill(rasa.process.pid, signal.SIGTERM)
            wait_until(lambda: not listeners(settings.rasa_port), 60,
                       "the stopping Rasa server closes its port")
            gate_a.set()
            sender_thread.join(120)
            answer = first["a"]
            assert isinstance(answer, httpx.Response), answer
            assert answer.status_code == 200 and "held in-flight" in answer.text
            try:
                late = client.post(url, json={"sender": "after-the-signal",
                                              "message": QUESTIONS[1]})
                outcome = f"answered by the stopping server: HTTP {late.status_code}"
            except httpx.ConnectError:
                outcome = "refused"
            except httpx.HTTPError as exc:
                outcome = repr(exc)
            assert outcome == "refused"
    finally:
        rasa.stop()
        actions.close()


# -- the scaled profile, through `make run PROFILE=scaled` ---------------------------------------


@pytest.fixture()
def postgres_dir() -> Iterator[Path]:
    """Outside pytest's private tmp tree: under root PostgreSQL runs as the postgres user."""
    parent = Path(tempfile.mkdtemp(prefix="assistant-sup-pg-"))
    os.chmod(parent, 0o755)
    yield parent / "data"
    shutil.rmtree(parent, ignore_errors=True)


def test_make_run_scaled_survives_a_crashed_instance_of_each_tier(
        tmp_path: Path, kb_home: Path, postgres_dir: Path) -> None:
    blocker = make_blocker()
    if blocker:
        pytest.skip(blocker)
    if not (shutil.which("nginx") or Path("/usr/sbin/nginx").exists()):
        pytest.skip("nginx is not installed (bootstrap.sh services)")
    rasa_base, action_base = free_ports_from(2), free_ports_from(2)
    ports = {"RASA_PORT": free_port(), "ACTION_PORT": free_port(), "CONSOLE_PORT": free_port(),
             "SCALE_RASA_BASE_PORT": rasa_base, "SCALE_ACTION_BASE_PORT": action_base,
             "POSTGRES_PORT": free_port(), "REDIS_PORT": free_port()}
    var = tmp_path / "var"
    env = user_env(var, kb_home, POSTGRES_DATA_DIR=str(postgres_dir),
                   **{k: str(v) for k, v in ports.items()})
    run = MakeRun(["PROFILE=scaled"], env)
    load = None
    report = {}
    try:
        run.wait_for("assistant is up", 480)
        port_of = {"rasa server 1": rasa_base, "rasa server 2": rasa_base + 1,
                   "action server 1": action_base, "action server 2": action_base + 1,
                   "nginx": ports["RASA_PORT"], "postgresql": ports["POSTGRES_PORT"],
                   "redis": ports["REDIS_PORT"], "staff console": ports["CONSOLE_PORT"]}
        health = {"rasa server 1": f"http://127.0.0.1:{rasa_base}/",
                  "action server 2": f"http://127.0.0.1:{action_base + 1}/ready"}
        plan = [("rasa server 1", signal.SIGKILL), ("action server 2", signal.SIGTERM)]
        others = {n: leader_on(p) for n, p in port_of.items() if n not in dict(plan)}
        load = Load(f"http://127.0.0.1:{ports['RASA_PORT']}/webhooks/rest/webhook",
                    users=3).start()
        time.sleep(3)
        kills = [Kill(name, port_of[name], sig) for name, sig in plan]
        kill_and_wait(run, kills, health, timeout=300)
        time.sleep(6)
        turns = load.stop()
        load = None
        report = classify(turns, kills)
        print("scaled kill report:", report)
        assert {n: leader_on(port_of[n]) for n in others} == others
        # two instances per tier: nobody notices, beyond the turns in flight at the kill
        check_turns(turns, kills, polite_while_down=set())
        # nginx sends turns to the restarted instance again (it flushes its log each second)
        access = var / "log" / "nginx-access.log"
        seen = len(access.read_text(errors="replace").splitlines())
        deadline = time.monotonic() + 30
        while f"upstream=127.0.0.1:{rasa_base} " not in "\n".join(
                access.read_text(errors="replace").splitlines()[seen:]):
            assert time.monotonic() < deadline, "nginx never used the restarted instance"
            httpx.post(f"http://127.0.0.1:{ports['RASA_PORT']}/webhooks/rest/webhook",
                       json={"sender": "sup-after", "message": QUESTIONS[0]}, timeout=60)
            time.sleep(1)
    finally:
        if load is not None:
            load.stop()
        code = run.interrupt(180)
        print(supervision_lines(run))
    assert code in (0, 130, 2, -signal.SIGINT), run.output[-3000:]
    assert {name: listeners(port) for name, port in ports.items() if listeners(port)} == {}
    assert strays(var) == []

