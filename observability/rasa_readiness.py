"""Whether this Rasa server can take conversations: the checks behind GET /webhooks/ops/ready.

Ready means the model is loaded and the tracker and lock stores answer. The action server is
checked and reported, but only as "degraded" when it is down: Rasa still understands the user
and the REST and WeChat channels answer with a polite "try again shortly", so taking the
instance out of the balancer would help nobody.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from observability.checks import DEGRADED, FAILED, OK, Check, run_check

STORE_TIMEOUT_SECONDS = 2.0
ACTION_SERVER_TIMEOUT_SECONDS = 1.0
READINESS_SENDER = "__readiness__"  # never a real conversation; reading it changes nothing


def _underlying_tracker_store(store: Any) -> Any:
    """The configured store itself. Rasa wraps it (FailSafeTrackerStore, AwaitableTrackerStore)
    in wrappers that swallow errors, which would make a dead database look healthy."""
    while hasattr(store, "_tracker_store"):
        store = store._tracker_store
    return store


def action_server_health_url(action_endpoint_url: str) -> str:
    """http://host:5055/webhook -> http://host:5055/health (rasa-sdk's health route)."""
    base = action_endpoint_url.rstrip("/")
    if base.endswith("/webhook"):
        base = base[: -len("/webhook")]
    return f"{base}/health"


async def rasa_checks(agent: Any) -> dict[str, Check]:
    """Runs every check; `agent` is Rasa's Agent (`app.ctx.agent`), None before it exists."""
    if agent is None:
        return {"model": Check(FAILED, "the agent is not created yet")}
    model = Check(OK) if agent.is_ready() else Check(FAILED, "no model loaded")
    tracker_store, lock_store, action_server = await asyncio.gather(
        run_check(lambda: _tracker_store(agent), STORE_TIMEOUT_SECONDS),
        run_check(lambda: _lock_store(agent), STORE_TIMEOUT_SECONDS),
        run_check(lambda: _action_server(agent), ACTION_SERVER_TIMEOUT_SECONDS,
                  on_error=DEGRADED),
    )
    return {"model": model, "tracker_store": tracker_store, "lock_store": lock_store,
            "action_server": action_server}


async def _tracker_store(agent: Any) -> str:
    store = _underlying_tracker_store(agent.tracker_store)
    await store.retrieve(READINESS_SENDER)
    return type(store).__name__


async def _lock_store(agent: Any) -> str:
    store = agent.lock_store
    client = getattr(store, "red", None)  # RedisLockStore's redis client
    if client is not None:
        await asyncio.to_thread(client.ping)
    return type(store).__name__


async def _action_server(agent: Any) -> str:
    endpoint = getattr(agent, "action_endpoint", None)
    if endpoint is None or not endpoint.url:
        raise RuntimeError("no action endpoint configured")
    url = action_server_health_url(endpoint.url)
    timeout = aiohttp.ClientTimeout(total=ACTION_SERVER_TIMEOUT_SECONDS)
    async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url) as resp:
        if resp.status != 200:
            raise RuntimeError(f"{url} answered HTTP {resp.status}")
    return url
