"""Supervision logic without servers: restart back-off and limit, the status file, the port
check, process groups, and the Rasa launcher's arguments."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from assistant.rasa_launcher import rasa_argv
from assistant.scaleout.deployment import (
    Deployment,
    RestartPolicy,
    Stage,
    Supervisor,
    describe_exit,
)
from assistant.servers import PortInUseError, ServerProcess, check_port_free


class FakeProcess(ServerProcess):
    """A ServerProcess whose start, exit and health the test decides."""

    def __init__(self, name: str, tmp: Path) -> None:
        super().__init__(name=name, cmd=[], health_url="", log_path=tmp / f"{name}.log")
        self.alive = False
        self.is_healthy = True
        self.starts = 0
        self.fail_start = False

    def start(self) -> None:
        if self.fail_start:
            raise PortInUseError("port 1 is already in use")
        self.starts += 1
        self.alive = True
        self.process = SimpleNamespace(pid=4242)  # type: ignore[assignment]

    @property
    def running(self) -> bool:
        return self.alive

    def reap(self) -> int | None:
        return None if self.alive else -signal.SIGKILL

    def healthy(self) -> bool:
        return self.is_healthy

    def stop(self, timeout: float = 15) -> None:
        self.alive = False


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
def rig(tmp_path: Path) -> tuple[Supervisor, FakeProcess, FakeProcess, Clock, Path]:
    a, b = FakeProcess("action server", tmp_path), FakeProcess("rasa server", tmp_path)
    a.start(), b.start()
    clock = Clock()
    status = tmp_path / "run" / "supervisor.prom"
    sup = Supervisor(Deployment([Stage([a, b])]),
                     RestartPolicy(max_restarts=3, window_seconds=100, first_delay=1,
                                   max_delay=4),
                     status_file=status, log=logging.getLogger("test.supervisor"), clock=clock)
    return sup, a, b, clock, status


def test_a_crashed_process_is_restarted_after_a_delay_and_the_others_are_left_alone(rig) -> None:
    sup, a, b, clock, status = rig
    a.alive = False
    sup.tick()
    assert a.starts == 1 and b.starts == 1  # not yet: the back-off
    clock.now += 1.0
    sup.tick()
    assert a.starts == 2 and a.running and b.starts == 1 and b.running
    assert 'assistant_supervisor_restarts_total{process="action server"} 1' in status.read_text()
    assert 'assistant_supervisor_restarts_total{process="rasa server"} 0' in status.read_text()
    assert oct(status.stat().st_mode & 0o777) == "0o600"


def test_back_off_doubles_and_the_supervisor_gives_up_past_the_limit(rig, caplog) -> None:
    sup, a, b, clock, status = rig
    delays = []
    for _ in range(3):
        a.alive = False
        sup.tick()
        crashed_at, starts = clock.now, a.starts
        while a.starts == starts:
            clock.now += 0.5
            sup.tick()
        delays.append(clock.now - crashed_at)
    assert delays == [1.0, 2.0, 4.0]
    a.alive = False
    with caplog.at_level(logging.ERROR):
        sup.tick()
    clock.now += 60
    sup.tick()
    assert a.starts == 4 and not a.running and b.running  # given up; rasa untouched
    assert "not restarting it again" in caplog.text
    assert 'assistant_supervisor_gave_up{process="action server"} 1' in status.read_text()


def test_restarts_older_than_the_window_no_longer_count(rig) -> None:
    sup, a, _, clock, _ = rig
    for _ in range(3):
        a.alive = False
        sup.tick()
        clock.now += 5
        sup.tick()
    clock.now += 200  # the window is 100 s
    a.alive = False
    sup.tick()
    clock.now += 1
    sup.tick()
    assert a.starts == 5 and a.running


def test_a_restart_that_cannot_start_is_retried_with_back_off(rig, caplog) -> None:
    sup, a, _, clock, _ = rig
    a.alive, a.fail_start = False, True
    with caplog.at_level(logging.WARNING):
        sup.tick()
        clock.now += 1
        sup.tick()
    assert "could not start: port 1 is already in use" in caplog.text
    a.fail_start = False
    clock.now += 2
    sup.tick()
    assert a.running


def test_exit_descriptions() -> None:
    assert describe_exit(-signal.SIGKILL) == "killed by SIGKILL"
    assert describe_exit(0) == "exit code 0"


def test_a_port_in_use_is_named_with_its_setting_and_holder() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(PortInUseError) as err:
            check_port_free("127.0.0.1", port, "action server", "ACTION_PORT")
    message = str(err.value)
    assert f"port {port} on 127.0.0.1 is already in use" in message
    assert f"pid {os.getpid()}" in message and "ACTION_PORT" in message
    check_port_free("127.0.0.1", port, "action server")  # free again


def test_children_die_with_a_killed_leader_and_free_the_port(tmp_path: Path) -> None:
    """A leader that forks a child holding a listening socket, as Sanic's main process does
    with its worker; SIGKILL the leader only, then reap: the whole group is gone."""
    script = (
        "import os, socket, time\n"
        "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
        "s.bind(('127.0.0.1', 0)); s.listen(); print(s.getsockname()[1], flush=True)\n"
        "if os.fork() == 0:\n"
        "    time.sleep(600)\n"
        "time.sleep(600)\n")
    server = ServerProcess(name="forker", cmd=[sys.executable, "-c", script], health_url="",
                           log_path=tmp_path / "forker.log")
    server.start()
    assert server.process is not None
    deadline = time.monotonic() + 10
    while not server.log_path.read_text().strip() and time.monotonic() < deadline:
        time.sleep(0.05)
    port = int(server.log_path.read_text().split()[0])
    time.sleep(0.3)  # the child has forked
    os.kill(server.process.pid, signal.SIGKILL)
    server.process.wait()
    with pytest.raises(PortInUseError):  # the child still holds it
        check_port_free("127.0.0.1", port, "forker")
    assert server.reap() == -signal.SIGKILL
    check_port_free("127.0.0.1", port, "forker")
    assert oct(server.log_path.stat().st_mode & 0o777) == "0o600"
    server.stop()  # a second clean-up is a no-op


def test_servers_run_with_a_private_umask(tmp_path: Path) -> None:
    server = ServerProcess(name="touch", cmd=["touch", str(tmp_path / "made")], health_url="",
                           log_path=tmp_path / "touch.log")
    server.start()
    assert server.process is not None and server.process.wait(10) == 0
    assert oct((tmp_path / "made").stat().st_mode & 0o777) == "0o600"
    server.stop()


def test_the_launcher_puts_the_token_after_the_subcommand_as_one_word() -> None:
    assert rasa_argv(["run", "--port", "5005"], "-tok") == [
        "rasa", "run", "--auth-token=-tok", "--port", "5005"]
    assert rasa_argv(["run"], "") == ["rasa", "run"]


def test_the_launcher_refuses_a_token_on_its_command_line() -> None:
    root = Path(__file__).resolve().parents[3]
    done = subprocess.run([sys.executable, "-m", "assistant.rasa_launcher", "run",
                           "--auth-token", "x"], cwd=root, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(root)}, timeout=60)
    assert done.returncode != 0 and "RASA_API_TOKEN" in done.stderr


def test_a_server_dies_with_a_supervisor_killed_by_sigkill(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[3]
    supervisor = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from assistant.servers import ServerProcess\n"
        "p = ServerProcess(name='sleeper', cmd=[sys.executable, '-c', 'import time; "
        "time.sleep(600)'], health_url='', log_path=Path(sys.argv[1]), die_with_parent=True)\n"
        "p.start(); print(p.process.pid, flush=True); time.sleep(600)\n")
    parent = subprocess.Popen([sys.executable, "-c", supervisor, str(tmp_path / "s.log")],
                              cwd=root, env={**os.environ, "PYTHONPATH": str(root)},
                              stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    def alive() -> bool:
        try:
            return Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False

    deadline = time.monotonic() + 10
    while alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    survived = alive()
    if survived:
        os.kill(child, signal.SIGKILL)
    assert not survived
