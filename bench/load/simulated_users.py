"""Simulated users for the load benchmark and the fault tests: each one holds a conversation
over REST or WeChat (plaintext mode) with think time between turns, and every turn is
recorded with its latency, status and replies so that results can be checked afterwards
against what the tracker store kept.

Loopback only, and bounded: a run stops at `turns_per_user` turns per user or at `duration`
seconds, whichever comes first.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import random
import secrets
import time
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

from knowledge.question_sets import question_texts

CONVERSATIONS = Path(__file__).with_name("conversations.yml")
EVAL_DIR = Path(__file__).resolve().parents[2] / "eval"
QUESTION_SETS = {
    "{policy_question}": ["retrieval_tune.tsv", "retrieval_heldout.tsv",
                          "retrieval_heldout_post.tsv"],
    "{out_of_scope}": ["out_of_scope.txt", "out_of_scope_tune.txt"],
}


def load_conversations(path: Path = CONVERSATIONS) -> list[list[str]]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))["conversations"]


def load_questions(eval_dir: Path = EVAL_DIR) -> dict[str, list[str]]:
    """Each placeholder of conversations.yml -> the questions it stands for (first column)."""
    return {placeholder: [q for name in files for q in question_texts(eval_dir / name)]
            for placeholder, files in QUESTION_SETS.items()}


@dataclass
class Turn:
    user: str
    channel: str
    message: str
    started: float  # time.monotonic()
    latency: float
    status: int | None  # None: no HTTP answer at all (connection refused, timeout)
    replies: list[str] = field(default_factory=list)
    error: str = ""

    @property
    def acknowledged(self) -> bool:
        """The user got an answer: HTTP 200 with at least one message."""
        return self.status == 200 and bool(self.replies)


class RestUser:
    channel = "rest"

    def __init__(self, name: str, base_url: str) -> None:
        self.name = name
        self.url = f"{base_url}/webhooks/rest/webhook"

    async def send(self, client: httpx.AsyncClient, message: str) -> tuple[int, list[str]]:
        resp = await client.post(self.url, json={"sender": self.name, "message": message})
        replies = [m.get("text", "") for m in resp.json()] if resp.status_code == 200 else []
        return resp.status_code, replies


class WeChatUser:
    """What WeChat's servers send for a user's text message, signed with the shared token;
    the passive XML reply is what the user sees first."""

    channel = "wechat"
    _msg_ids = itertools.count(int(time.time() * 1000))

    def __init__(self, name: str, base_url: str, token: str) -> None:
        self.name = name
        self.url = f"{base_url}/webhooks/wechat/webhook"
        self.token = token

    def _signature(self, timestamp: str, nonce: str) -> str:
        return hashlib.sha1("".join(sorted([self.token, timestamp, nonce])).encode()).hexdigest()

    async def send(self, client: httpx.AsyncClient, message: str) -> tuple[int, list[str]]:
        ts, nonce = str(int(time.time())), str(secrets.randbelow(10**9))
        xml = (f"<xml><ToUserName><![CDATA[gh_loadtest]]></ToUserName>"
               f"<FromUserName><![CDATA[{self.name}]]></FromUserName>"
               f"<CreateTime>{ts}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
               f"<Content><![CDATA[{message}]]></Content>"
               f"<MsgId>{next(self._msg_ids)}</MsgId></xml>")
        resp = await client.post(self.url, content=xml.encode(), params={
            "signature": self._signature(ts, nonce), "timestamp": ts, "nonce": nonce,
            "openid": self.name})
        if resp.status_code != 200 or not resp.text.strip().startswith("<xml"):
            return resp.status_code, []
        content = ET.fromstring(resp.text).findtext("Content") or ""
        return resp.status_code, [content] if content else []


User = RestUser | WeChatUser


async def converse(user: User, client: httpx.AsyncClient, script: list[str], turns: int,
                   think: tuple[float, float], deadline: float, rng: random.Random,
                   record: Callable[[Turn], None],
                   questions: dict[str, list[str]] | None = None,
                   new_owner_per_script: bool = False) -> None:
    """`new_owner_per_script`: when the script ends, another owner (a new conversation) takes
    the user's place, as on WeChat, where an owner asks a few questions and leaves; otherwise
    the same conversation goes round the script again and grows for the whole run."""
    first_name = user.name
    for n, line in enumerate(itertools.islice(itertools.cycle(script), turns)):
        if new_owner_per_script and n and n % len(script) == 0:
            user.name = f"{first_name}-{n // len(script)}"
        if time.monotonic() >= deadline:
            return
        pool = (questions or {}).get(line)
        message = rng.choice(pool) if pool else line
        started = time.monotonic()
        try:
            status, replies = await user.send(client, message)
            error = ""
        except httpx.HTTPError as exc:
            status, replies, error = None, [], f"{type(exc).__name__}: {exc}"
        record(Turn(user.name, user.channel, message, started, time.monotonic() - started,
                    status, replies, error))
        await asyncio.sleep(rng.uniform(*think))


@dataclass
class LoadPlan:
    users: int
    turns_per_user: int = 10
    duration: float = 60.0
    think: tuple[float, float] = (1.0, 3.0)  # seconds an owner takes to read and type
    new_owner_per_script: bool = False  # see converse()
    wechat_share: float = 0.5  # the rest use REST
    wechat_token: str = ""  # empty: REST users only
    seed: int = 7
    name_prefix: str = "load"


async def run_load(base_url: str, plan: LoadPlan,
                   on_turn: Callable[[Turn], None] | None = None) -> list[Turn]:
    """Runs `plan.users` users at once against `base_url` (the balancer or one instance)."""
    rng = random.Random(plan.seed)
    scripts = load_conversations()
    questions = load_questions()
    turns: list[Turn] = []

    def record(turn: Turn) -> None:
        turns.append(turn)
        if on_turn is not None:
            on_turn(turn)

    run_id = secrets.token_hex(3)
    users: list[User] = []
    for i in range(plan.users):
        name = f"{plan.name_prefix}-{run_id}-{i}"
        wechat = plan.wechat_token and rng.random() < plan.wechat_share
        users.append(WeChatUser(f"o{name}", base_url, plan.wechat_token) if wechat
                     else RestUser(name, base_url))
    deadline = time.monotonic() + plan.duration
    limits = httpx.Limits(max_connections=plan.users + 10, max_keepalive_connections=plan.users)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        await asyncio.gather(*(
            # Users arrive over the first think interval rather than all in the same instant.
            _after(rng.uniform(0, plan.think[1]),
                   converse(user, client, scripts[i % len(scripts)], plan.turns_per_user,
                            plan.think, deadline, random.Random(rng.random()), record,
                            questions, plan.new_owner_per_script))
            for i, user in enumerate(users)))
    return turns


async def _after(delay: float, coro: Awaitable[None]) -> None:
    await asyncio.sleep(delay)
    await coro
