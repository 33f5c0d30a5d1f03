"""Ports: free loopback ports for every process of a profile (so that the tests and the load
benchmark can start a profile beside whatever else runs on the machine), and who listens on a
port (Linux /proc), for the supervisor's "port already in use" message and the tests."""

from __future__ import annotations

import os
import random
import socket
from pathlib import Path

from assistant.settings import RuntimeSettings

_LISTEN = "0A"  # TCP state LISTEN in /proc/net/tcp*
_RANDOM = random.SystemRandom()  # independent of any seeded global random state


def _listening_sockets(port: int) -> list[tuple[str, str]]:
    """(address, socket inode) of each TCP socket listening on `port`, IPv4 and IPv6."""
    found = []
    for table, ipv6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if len(cols) <= 9 or cols[3] != _LISTEN:
                continue
            address, hex_port = cols[1].rsplit(":", 1)
            if int(hex_port, 16) == port:
                found.append((_address(address, ipv6), cols[9]))
    return found


def _address(hex_address: str, ipv6: bool) -> str:
    """/proc writes addresses as host-order 32-bit words: 0100007F is 127.0.0.1."""
    if not ipv6:
        return ".".join(str(b) for b in bytes.fromhex(hex_address)[::-1])
    words = "".join(bytes.fromhex(hex_address[i:i + 8])[::-1].hex() for i in range(0, 32, 8))
    return {"0" * 32: "::", "0" * 31 + "1": "::1"}.get(words, words)


def listeners(port: int) -> set[str]:
    """The addresses something listens on at `port` (TCP, IPv4 and IPv6)."""
    return {address for address, _ in _listening_sockets(port)}


def port_holders(port: int) -> list[tuple[int, str]]:
    """(pid, command line) of the processes listening on `port`, as far as this user may see
    (Linux /proc; empty elsewhere or when the holder belongs to another user)."""
    inodes = {f"socket:[{inode}]" for _, inode in _listening_sockets(port)}
    found = []
    if not inodes:
        return found
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if any(os.readlink(fd) in inodes for fd in (proc / "fd").iterdir()):
                args = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(
                    errors="replace").strip()
                found.append((int(proc.name), args[:160]))
        except OSError:
            continue
    return sorted(found)


def _bind(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


# Ports the kernel hands out to outgoing connections (and to bind(("", 0))): a port picked there
# is free when picked but may be taken by any client socket before the server binds it, which a
# busy machine (a load benchmark beside the tests) does within seconds. Servers get ports below.
_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_LOWEST_SERVER_PORT = 10000


def _first_ephemeral_port() -> int:
    try:
        return int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def free_port() -> int:
    """A port no server listens on now, outside the range the kernel gives client sockets."""
    top = _first_ephemeral_port()
    if top - _LOWEST_SERVER_PORT >= 1000:
        for _ in range(200):
            port = _RANDOM.randrange(_LOWEST_SERVER_PORT, top)
            if _bind(port):
                return port
    with socket.socket() as s:  # no room below the ephemeral range: the kernel's choice
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
