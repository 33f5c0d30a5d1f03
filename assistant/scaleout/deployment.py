"""Every process of a profile, started in dependency order and stopped in reverse.

Embedded: one action server, one Rasa server (SQLite tracker store, in-memory locks), the
console. Scaled: PostgreSQL and Redis; the action servers and a first Rasa instance (which
creates the tracker tables, so that instances never race to create them); the other Rasa
instances; nginx in front of both tiers; the console. `make run`, the scaled tests and the
load benchmark all start a profile through here.

`Supervisor` keeps a started deployment up for `make run`: a process that exits without
being asked to is restarted, after a back-off and up to a limit, while the others keep
serving; only Ctrl-C or SIGTERM to the supervisor stops them all (assistant/run.py). Its
restarts are logged and written for Prometheus's textfile collector (`supervisor.prom`).
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from assistant.scaleout.nginx import nginx_balancer
from assistant.scaleout.postgres import PostgresCluster
from assistant.scaleout.redis_server import redis_server
from assistant.servers import (
    ServerProcess,
    ServerStartError,
    action_server,
    console_server,
    rasa_server,
)
from assistant.settings import RuntimeSettings


@dataclass
class Stage:
    processes: list[ServerProcess]
    then: Callable[[], None] | None = None  # runs once every process of the stage is healthy


@dataclass
class Deployment:
    stages: list[Stage]
    log: Callable[[str], None] = field(default=lambda _msg: None)

    @property
    def processes(self) -> list[ServerProcess]:
        return [p for stage in self.stages for p in stage.processes]

    def __iter__(self) -> Iterator[ServerProcess]:
        return iter(self.processes)

    def get(self, name: str) -> ServerProcess:
        for process in self.processes:
            if process.name == name:
                return process
        raise KeyError(name)

    def start(self, timeout: float) -> None:
        for process in self.processes:  # every port taken is named before anything starts
            process.check_ports()
        for stage in self.stages:
            for process in stage.processes:
                self.log(f"starting {process.name} (log: {process.log_path})")
                process.start()
            for process in stage.processes:
                process.wait_healthy(timeout)
                self.log(f"{process.name} is up")
            if stage.then is not None:
                stage.then()

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()

    def exited(self) -> list[ServerProcess]:
        return [p for p in self.processes if p.process is not None and not p.running]


SUPERVISOR_LOG = logging.getLogger("assistant.supervisor")


@dataclass(frozen=True)
class RestartPolicy:
    """Restart a crashed process after `first_delay` seconds, doubling up to `max_delay` for
    each restart within the last `window_seconds`; after `max_restarts` in that window, stop
    trying (it crashes as it starts: a person has to look)."""

    max_restarts: int = 5
    window_seconds: float = 600.0
    first_delay: float = 1.0
    max_delay: float = 30.0

    def delay(self, recent_restarts: int) -> float:
        return min(self.first_delay * 2 ** recent_restarts, self.max_delay)


@dataclass
class _Watch:
    restarts: int = 0
    recent: deque[float] = field(default_factory=deque)
    due: float | None = None  # when the pending restart runs
    starting_since: float | None = None  # restarted, not healthy yet
    gave_up: bool = False


def describe_exit(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class Supervisor:
    """Restarts the processes of a started deployment that exit on their own. Call `tick`
    every second or so; it never blocks for long (a health probe: 2 s at most)."""

    def __init__(self, deployment: Deployment, policy: RestartPolicy = RestartPolicy(),
                 status_file: Path | None = None, startup_timeout: float = 300.0,
                 log: logging.Logger = SUPERVISOR_LOG,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.deployment = deployment
        self.policy = policy
        self.status_file = status_file
        self.startup_timeout = startup_timeout
        self.log = log
        self.clock = clock
        self.watches = {p.name: _Watch() for p in deployment}
        self.write_status()

    def tick(self) -> None:
        changed = False
        for process in self.deployment:
            changed |= self._watch(process, self.watches[process.name], self.clock())
        if changed:
            self.write_status()

    def _watch(self, process: ServerProcess, watch: _Watch, now: float) -> bool:
        if watch.gave_up:
            return False
        if watch.due is not None:
            if now < watch.due:
                return False
            return self._restart(process, watch, now)
        if process.process is None:
            return False
        if watch.starting_since is not None and process.running:
            if process.healthy():
                self.log.info(f"{process.name} is up again after "
                              f"{now - watch.starting_since:.0f} s (restart {watch.restarts})")
                watch.starting_since = None
                return True
            if now - watch.starting_since > self.startup_timeout:
                self.log.error(f"{process.name} not healthy {self.startup_timeout:.0f} s "
                               "after its restart; stopping it")
                process.stop()
            return False
        if process.running:
            return False
        code = process.reap()  # also kills what it left in its group
        return self._crashed(process, watch, now, describe_exit(code))

    def _crashed(self, process: ServerProcess, watch: _Watch, now: float, why: str) -> bool:
        watch.starting_since = None
        while watch.recent and now - watch.recent[0] > self.policy.window_seconds:
            watch.recent.popleft()
        seconds = self.policy.window_seconds
        window = f"{seconds / 60:.0f} min" if seconds >= 120 else f"{seconds:.0f} s"
        if len(watch.recent) >= self.policy.max_restarts:
            watch.gave_up = True
            self.log.error(f"{process.name} stopped unexpectedly ({why}) after "
                           f"{len(watch.recent)} restarts in {window}; not restarting it again, "
                           f"the other servers keep serving. See {process.log_path}")
            return True
        delay = self.policy.delay(len(watch.recent))
        watch.due = now + delay
        self.log.warning(
            f"{process.name} stopped unexpectedly ({why}); restarting it in {delay:.0f} s "
            f"(restart {len(watch.recent) + 1} of at most {self.policy.max_restarts} in "
            f"{window}); the other servers keep serving. See {process.log_path}")
        return True

    def _restart(self, process: ServerProcess, watch: _Watch, now: float) -> bool:
        watch.due = None
        watch.recent.append(now)
        watch.restarts += 1
        try:
            process.start()
        except (ServerStartError, OSError) as exc:
            return self._crashed(process, watch, now, f"could not start: {exc}")
        watch.starting_since = now
        pid = process.process.pid if process.process else "?"
        self.log.info(f"{process.name} restarted (pid {pid}, restart {watch.restarts})")
        return True

    def write_status(self) -> None:
        """Prometheus text for node_exporter's textfile collector: restarts per process,
        whether it runs, and whether the supervisor gave up on it. Replaced atomically."""
        if self.status_file is None:
            return
        lines = [
            "# HELP assistant_supervisor_restarts_total Restarts of a process that stopped "
            "unexpectedly, since the supervisor started.",
            "# TYPE assistant_supervisor_restarts_total counter",
            *(f'assistant_supervisor_restarts_total{{process="{_slug(p)}"}} '
              f"{self.watches[p.name].restarts}" for p in self.deployment),
            "# HELP assistant_supervisor_process_up 1 while the process runs.",
            "# TYPE assistant_supervisor_process_up gauge",
            *(f'assistant_supervisor_process_up{{process="{_slug(p)}"}} {int(p.running)}'
              for p in self.deployment),
            "# HELP assistant_supervisor_gave_up 1 once the supervisor stopped restarting it.",
            "# TYPE assistant_supervisor_gave_up gauge",
            *(f'assistant_supervisor_gave_up{{process="{_slug(p)}"}} '
              f"{int(self.watches[p.name].gave_up)}" for p in self.deployment),
        ]
        self.status_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = self.status_file.with_name(f".{self.status_file.name}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write("\n".join(lines) + "\n")
        os.replace(tmp, self.status_file)


def _slug(process: ServerProcess) -> str:
    return process.log_path.stem


def build_deployment(settings: RuntimeSettings, model: Path, action_env: dict[str, str] | None
                     = None, console: bool = True,
                     log: Callable[[str], None] = lambda _msg: None) -> Deployment:
    """`action_env` reaches every action server (the tests point KB_HOME at their own KB)."""
    tail = [console_server(settings)] if console else []
    if not settings.scaled:
        return Deployment([Stage([action_server(settings, env=action_env),
                                  rasa_server(settings, model), *tail])], log)

    scale = settings.scale
    cluster = PostgresCluster(settings.postgres_data_path, scale,
                              settings.log_dir / "postgresql.log", settings.postgres_password_file)
    actions = [action_server(settings, env=action_env, port=port, instance=i + 1)
               for i, port in enumerate(scale.action_ports())]
    rasas = [rasa_server(settings, model, port=port, instance=i + 1)
             for i, port in enumerate(scale.rasa_ports())]
    return Deployment([
        Stage([cluster.server(),
               redis_server(scale, settings.scaled_dir / "redis", settings.log_dir / "redis.log")],
              then=cluster.ensure_database),
        Stage(actions + rasas[:1]),
        Stage([*rasas[1:], nginx_balancer(settings), *tail]),
    ], log)
