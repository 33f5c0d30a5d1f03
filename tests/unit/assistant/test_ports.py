"""Ports for test and benchmark servers stay out of the kernel's range for client sockets:
a port picked there can be taken by an outgoing connection before the server binds it (issue
26: a scaled `make run` beside the load benchmark failed with "port already in use")."""

from __future__ import annotations

from assistant.scaleout import ports


def test_free_ports_are_below_the_ephemeral_range() -> None:
    top = ports._first_ephemeral_port()
    picked = {ports.free_port() for _ in range(50)}
    assert all(ports._LOWEST_SERVER_PORT <= p < top for p in picked)
    assert len(picked) > 1  # spread out, so two callers rarely pick the same


def test_a_port_in_use_is_never_picked(monkeypatch) -> None:
    """Which ports are busy is the test's own (a busy machine must not change the outcome)."""
    busy, free = 20001, 20002
    choices = iter([busy, busy, free])
    monkeypatch.setattr(ports._RANDOM, "randrange", lambda a, b: next(choices))
    monkeypatch.setattr(ports, "_bind", lambda port: port != busy)
    assert ports.free_port() == free


def test_consecutive_instance_ports_are_free() -> None:
    first = ports.free_ports_from(3)
    assert all(ports._bind(first + i) for i in range(3))
