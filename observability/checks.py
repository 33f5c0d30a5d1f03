"""Readiness checks shared by the three services, so that their `ready` answers read alike.

A check ends "ok", "failed" or "degraded". Only "failed" makes a service unready: a load
balancer should stop sending users to an instance that cannot help them, but keep sending them
to one that still answers with less (Rasa without the action server still replies politely).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

OK = "ok"
FAILED = "failed"
DEGRADED = "degraded"
MAX_DETAIL_CHARS = 200  # enough to name the cause; the full error belongs in the log


@dataclass(frozen=True)
class Check:
    status: str
    detail: str = ""

    def as_json(self) -> dict[str, str]:
        return {"status": self.status, **({"detail": self.detail} if self.detail else {})}


Probe = Callable[[], Awaitable[str | None]]


async def run_check(probe: Probe, timeout: float, on_error: str = FAILED) -> Check:
    """Runs one probe with a deadline; its exception or silence becomes `on_error`.

    A probe returns an optional detail for an "ok" answer and raises to say it failed, so
    each probe is the plain call it checks, and timing out is handled once, here.
    """
    try:
        detail = await asyncio.wait_for(probe(), timeout)
    except asyncio.TimeoutError:
        return Check(on_error, f"no answer within {timeout:g}s")
    except Exception as exc:  # any error is the answer of the check
        return Check(on_error, f"{type(exc).__name__}: {exc}"[:MAX_DETAIL_CHARS])
    return Check(OK, detail or "")


def readiness(checks: Mapping[str, Check]) -> tuple[bool, dict[str, Any]]:
    """Whether the service is ready, and the JSON body that says why."""
    ready = all(c.status != FAILED for c in checks.values())
    return ready, {"ready": ready, "checks": {name: c.as_json() for name, c in checks.items()}}
