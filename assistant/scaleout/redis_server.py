"""A Redis server of the project's own, for the scaled profile's lock store.

Locks are short-lived, so nothing is persisted (no RDB snapshots, no AOF).
"""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

from assistant.servers import ServerProcess, ServerStartError
from assistant.settings import ScaleOutSettings


def ping(host: str, port: int, timeout: float = 1.0) -> bool:
    """Redis's PING over a raw socket: this runtime needs no Redis client to check it."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def redis_server(scale: ScaleOutSettings, data_dir: Path, log_path: Path) -> ServerProcess:
    binary = shutil.which("redis-server")
    if binary is None:
        raise ServerStartError("redis-server is not installed: run `bash "
                               "assistant/scripts/bootstrap.sh services`")
    return ServerProcess(
        name="redis",
        cmd=[binary, "--bind", scale.redis_host, "--port", str(scale.redis_port),
             "--dir", str(data_dir), "--save", "", "--appendonly", "no",
             "--daemonize", "no", "--protected-mode", "yes"],
        health_url="", probe=lambda: ping(scale.redis_host, scale.redis_port),
        log_path=log_path, ports={scale.redis_port: "REDIS_PORT"}, bind_host=scale.redis_host,
        prepare=lambda: data_dir.mkdir(mode=0o700, parents=True, exist_ok=True),
    )
