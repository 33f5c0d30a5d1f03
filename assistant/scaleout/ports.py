"""Free loopback ports for every process of a profile, so that the tests and the load
benchmark can start a profile beside whatever else runs on the machine."""

from __future__ import annotations

import socket
from pathlib import Path

from assistant.settings import RuntimeSettings


def _bind(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_ports_from(count: int) -> int:
    """A port p such that p, p + 1, ..., p + count - 1 are all free now (instance ports)."""
    for _ in range(100):
        first = free_port()
        if all(_bind(first + i) for i in range(1, count)):
            return first
    raise RuntimeError(f"no {count} consecutive free ports")


def on_free_ports(settings: RuntimeSettings, postgres_data_dir: Path) -> RuntimeSettings:
    """`settings` with every port free, and the scaled profile's PostgreSQL cluster in
    `postgres_data_dir` (under root it must be reachable by the postgres system user)."""
    scale = settings.scale.model_copy(update={
        "rasa_base_port": free_ports_from(settings.scale.rasa_instances),
        "action_base_port": free_ports_from(settings.scale.action_instances),
        "postgres_port": free_port(), "redis_port": free_port(),
        "postgres_data_dir": str(postgres_data_dir)})
    return settings.model_copy(update={
        "rasa_port": free_port(), "action_port": free_port(), "console_port": free_port(),
        "scale": scale}).with_local_secrets()
