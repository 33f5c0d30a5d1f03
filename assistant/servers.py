"""Starts, health-checks and stops the assistant's processes; shared by `make run`, the tests
and the load benchmark. `assistant/scaleout/` adds PostgreSQL, Redis and nginx for the
scaled profile, and the supervision that restarts a crashed process (`Supervisor`).

Each server runs in a process group of its own, with umask 077 (its files are its owner's
only). The whole group is signalled to stop it, and killed once its leader has died, so that
worker processes (Sanic's) never outlive a crashed server and keep its port. A port that is
already taken is named as such, with the process holding it, before anything starts.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from assistant.channels.wechat_config import WeChatSettings
from assistant.scaleout.ports import port_holders
from assistant.settings import RuntimeSettings

# One math thread per Rasa process. Rasa serves one turn at a time per process, and the NLU's
# matrix products are small: with a thread per core, OpenBLAS and TensorFlow workers spin while
# they wait, and under load the Rasa server burned 1.5 cores at 17 turns/s
# (bench/load_bench.py; docs/scaling.md). Scale out with instances instead.
SINGLE_THREADED_MATH = {
    "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
    "TF_INTRA_OP_PARALLELISM_THREADS": "1", "TF_INTER_OP_PARALLELISM_THREADS": "1",
}


LOOPBACK = "127.0.0.1"
# Files the servers and the supervisor create are readable by the service user only.
PRIVATE_UMASK = 0o077
# Rasa's calls to the action servers carry the shared secret in the X-Action-Token header, from
# this variable (endpoints.yml, endpoints-scaled.yml; action_server/app.py checks it).
ACTION_TOKEN_VARIABLE = "ACTION_SERVER_TOKEN"


class ServerStartError(RuntimeError):
    pass


class PortInUseError(ServerStartError):
    pass


def check_port_free(host: str, port: int, owner: str, setting: str = "") -> None:
    """Raises PortInUseError naming the port, the setting that chose it and the process that
    holds it, when a server could not listen on `host:port`. Binds as the servers do
    (SO_REUSEADDR), so a port with connections only in TIME_WAIT counts as free."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
            return
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                return  # e.g. an address not on this host: the server itself will say so
    holders = port_holders(port)
    by = ("; ".join(f"pid {pid} ({args})" for pid, args in holders) if holders
          else "a process this user cannot see")
    hint = f" or choose another port with {setting}" if setting else ""
    raise PortInUseError(f"{owner} cannot start: port {port} on {host} is already in use by "
                         f"{by}. Stop that process{hint}.")


def _parent_death_signal(sig: int) -> Callable[[], None] | None:
    """A preexec_fn asking Linux to send `sig` when the parent dies (PR_SET_PDEATHSIG)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    pr_set_pdeathsig = 1

    def request() -> None:
        libc.prctl(pr_set_pdeathsig, int(sig), 0, 0, 0)

    return request


def _group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of a process group."""
    members = []
    try:
        entries = list(Path("/proc").iterdir())
    except OSError:
        entries = []
    for proc in entries:
        if not proc.name.isdigit():
            continue
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            members.append(int(proc.name))
    return members


def kill_group(pgid: int, timeout: float = 10) -> None:
    """SIGKILL to every process left in a group whose leader is gone; waits until they are."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return
    deadline = time.monotonic() + timeout
    while _group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)


def run_dir(settings: RuntimeSettings) -> Path:
    """What the supervisor writes while it runs: `supervisor.prom` (restarts, for ops)."""
    return settings.var_dir / "run"


def action_token_file(settings: RuntimeSettings) -> Path:
    """Where `make run` leaves the action server's secret while it runs, for `make shell`
    (a plain Rasa that calls the running action server; the Makefile reads the file into its
    environment, so that the secret is on no command line)."""
    return run_dir(settings) / "action-server.token"


def write_action_token(settings: RuntimeSettings) -> Path:
    """Writes the action server's secret to `action_token_file`, readable by its owner only,
    replaced atomically. Returns the path."""
    path = action_token_file(settings)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(settings.action_server_token)
    os.replace(tmp, path)
    return path


def secure_var_dir(settings: RuntimeSettings) -> None:
    """var/ and its directories readable by the service user only (0700), and the logs and
    databases already there (0600): they hold conversations, accounts and server logs."""
    dirs = [settings.var_dir, settings.log_dir, settings.tracker_db.parent,
            settings.console_db.parent, run_dir(settings)]
    for path in dirs:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    for path in {*dirs, *(p for p in settings.var_dir.iterdir() if p.is_dir())}:
        _restrict(path, 0o700)
    for path in [*settings.log_dir.glob("*.log"), settings.tracker_db, settings.console_db]:
        _restrict(path, 0o600)


def _restrict(path: Path, mode: int) -> None:
    try:
        st = path.stat()
        if st.st_uid == os.geteuid() and st.st_mode & 0o077 & ~(mode & 0o077):
            path.chmod(mode)
    except OSError:
        pass


@dataclass
class ServerProcess:
    name: str
    cmd: list[str]
    health_url: str
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    # Non-HTTP services (PostgreSQL, Redis) say they are ready through a probe instead.
    probe: Callable[[], bool] | None = None
    # Run before each start: what the server needs on disk (data directories, initdb, its
    # configuration). Not when the spec is built, so that building a deployment only to look
    # at it (tests, tools) writes nothing.
    prepare: Callable[[], None] | None = None
    user: str | None = None  # run as this system user (PostgreSQL refuses to run as root)
    stop_signal: int = signal.SIGTERM
    # Where it listens: port -> the setting that chose it (checked free before each start).
    ports: dict[int, str] = field(default_factory=dict)
    bind_host: str = LOOPBACK
    # Linux: the kernel sends `stop_signal` to the server if the process that started it dies
    # (even by SIGKILL), so that a killed supervisor leaves nothing behind. Only for a
    # supervisor starting servers from its main thread (the signal follows the thread).
    die_with_parent: bool = False
    process: subprocess.Popen | None = None
    # The leader whose group has been emptied: its number may belong to another group later.
    _cleared: int | None = field(default=None, repr=False)

    def check_ports(self) -> None:
        for port, setting in self.ports.items():
            check_port_free(self.bind_host, port, self.name, setting)

    def start(self) -> None:
        self.check_ports()
        if self.prepare is not None:
            self.prepare()
        self.log_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "ab") as log:
            self.process = subprocess.Popen(
                self.cmd, cwd=self.cwd, env={**os.environ, **self.env}, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,  # own group: stop kills all
                user=self.user, group=self.user, umask=PRIVATE_UMASK,
                preexec_fn=_parent_death_signal(self.stop_signal) if self.die_with_parent
                else None,
            )

    def reap(self) -> int | None:
        """The leader's exit status once it has exited (else None), after killing whatever
        it left in its group (Sanic's workers hold the port after a SIGKILL of their parent)."""
        if self.process is None or self.process.poll() is None:
            return None
        self._clear_group()
        return self.process.returncode

    def _clear_group(self) -> None:
        """Kills what the (exited) leader left in its group, once per started process."""
        assert self.process is not None
        if self._cleared != self.process.pid:
            kill_group(self.process.pid)
            self._cleared = self.process.pid

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def healthy(self) -> bool:
        if self.probe is not None:
            return self.probe()
        try:
            with urllib.request.urlopen(self.health_url, timeout=2) as resp:
                return resp.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise ServerStartError(
                    f"{self.name} exited with {self.process.returncode}; see {self.log_path}:\n"
                    + self.tail()
                )
            if self.healthy():
                return
            time.sleep(0.5)
        raise ServerStartError(f"{self.name} not healthy after {timeout:.0f}s; see {self.log_path}")

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 15) -> None:
        self._signal_group(self.stop_signal, timeout)

    def kill(self) -> None:
        """SIGKILL, as a crash: no shutdown handlers run (fault-injection tests)."""
        self._signal_group(signal.SIGKILL, timeout=15)

    def _signal_group(self, sig: int, timeout: float) -> None:
        if self.process is None or self._cleared == self.process.pid:
            return
        pgid = self.process.pid  # a new session: its group is the leader's pid
        if self.running:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout)
        # The leader has gone (or would not): the group's stragglers get a moment, then SIGKILL.
        deadline = time.monotonic() + min(timeout, 5)
        while _group_members(pgid) and time.monotonic() < deadline:
            time.sleep(0.05)
        self._clear_group()
        self.process.wait()


def _instance_name(name: str, instance: int | None) -> tuple[str, str]:
    """('rasa server 2', 'rasa-server-2') for instance 2; the plain name for a single one."""
    slug = name.replace(" ", "-")
    return (name, slug) if instance is None else (f"{name} {instance}", f"{slug}-{instance}")


def action_server(settings: RuntimeSettings, env: dict[str, str] | None = None,
                  port: int | None = None, instance: int | None = None) -> ServerProcess:
    """One action server. Only Rasa calls it, and in both profiles it runs actions only for
    callers presenting the shared secret (per run unless ACTION_SERVER_TOKEN is set); in the
    embedded profile it also listens on loopback whatever ASSISTANT_HOST says (in the scaled
    one its instances sit behind nginx, possibly on other machines)."""
    port = settings.action_port if port is None else port
    name, slug = _instance_name("action server", instance)
    host = _action_host(settings)
    secret = settings.action_server_token
    return ServerProcess(
        name=name,
        cmd=[str(settings.actions_python), "-m", "action_server", "--port", str(port)],
        health_url=f"http://{host}:{port}/health",
        log_path=settings.log_dir / f"{slug}.log",
        env={"PYTHONPATH": str(settings.root), "SANIC_HOST": host,
             ACTION_TOKEN_VARIABLE: secret, **(env or {})},
        cwd=settings.root,
        ports={port: "SCALE_ACTION_BASE_PORT" if instance else "ACTION_PORT"}, bind_host=host,
    )


def _action_host(settings: RuntimeSettings) -> str:
    return settings.host if settings.scaled else LOOPBACK


def rasa_server(settings: RuntimeSettings, model: Path, env: dict[str, str] | None = None,
                port: int | None = None, instance: int | None = None) -> ServerProcess:
    """One Rasa server. In the scaled profile (`settings.scaled`) it keeps conversations in
    PostgreSQL, locks them in Redis, and reaches the action servers through the balancer,
    which listens on `settings.action_port` in both profiles."""
    port = settings.rasa_port if port is None else port
    name, slug = _instance_name("rasa server", instance)
    store_env = settings.scale.process_env() if settings.scaled else {}
    action_url = f"http://{_action_host(settings)}:{settings.action_port}/webhook"
    return ServerProcess(
        name=name,
        # `rasa run` through assistant/rasa_launcher.py, which hands Rasa the API token from
        # RASA_API_TOKEN in-process: a command line is public (`ps`), an environment is not.
        cmd=[str(settings.rasa_python), "-m", "assistant.rasa_launcher", "run",
             "--model", str(model),
             "--endpoints", str(settings.endpoints_file), "--credentials", "credentials.yml",
             # No --cors: the REST channel answers cross-origin requests itself, only for
             # REST_CORS_ORIGINS and never with credentials (assistant/channels/rest.py).
             "--interface", settings.host, "--port", str(port),
             # The HTTP API lets the console append staff replies and pause/resume a
             # conversation; without the token every API call is refused.
             "--enable-api"],
        health_url=f"http://{settings.host}:{port}/",
        log_path=settings.log_dir / f"{slug}.log",
        env={
            "PYTHONPATH": str(settings.root),
            "RASA_API_TOKEN": settings.rasa_api_token,
            # One outbox secret for every instance: a token issued by one is valid on all.
            "REST_OUTBOX_SECRET": settings.rest_outbox_secret,
            "ACTION_ENDPOINT_URL": action_url,
            "TRACKER_DB": str(settings.tracker_db),
            **store_env,
            ACTION_TOKEN_VARIABLE: settings.action_server_token,  # sent by the endpoints file
            **SINGLE_THREADED_MATH,
            **_shared_wechat_state(settings),
            **(env or {}),
        },
        cwd=settings.root,
        ports={port: "SCALE_RASA_BASE_PORT" if instance else "RASA_PORT"},
        bind_host=settings.host,
        prepare=lambda: settings.tracker_db.parent.mkdir(mode=0o700, parents=True,
                                                         exist_ok=True),
    )


def _shared_wechat_state(settings: RuntimeSettings) -> dict[str, str]:
    """Scaled: WeChat messages are claimed, and the access token kept, in the profile's Redis,
    shared by every Rasa instance and the console."""
    if not settings.scaled or WeChatSettings.from_env().dedup_redis_url:
        return {}
    s = settings.scale
    return {"WECHAT_DEDUP_REDIS": f"redis://{s.redis_host}:{s.redis_port}/{s.redis_db}"}


def console_server(settings: RuntimeSettings, env: dict[str, str] | None = None) -> ServerProcess:
    return ServerProcess(
        name="staff console",
        cmd=[str(settings.actions_python), "-m", "assistant.console"],
        health_url=f"{settings.console_url}/api/health",
        log_path=settings.log_dir / "console.log",
        env={"PYTHONPATH": str(settings.root), **settings.process_env(),
             **_shared_wechat_state(settings), **(env or {})},
        cwd=settings.root,
        ports={settings.console_port: "CONSOLE_PORT"}, bind_host=settings.host,
    )
