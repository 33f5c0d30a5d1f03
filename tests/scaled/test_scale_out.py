"""The scaled profile against real PostgreSQL, Redis, nginx, two Rasa instances and two action
servers: conversations survive being spread over instances, concurrent turns of one user are
serialised by the Redis lock store, faults lose no acknowledged message, and staff see
every conversation in the console."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from assistant.channels.rest_protocol import OUTBOX_TOKEN_HEADER
from assistant.channels.staff_replies import HUMAN_HAS_TAKEN_OVER
from assistant.console.api.deps import CSRF_HEADER
from bench.load.simulated_users import LoadPlan, Turn, run_load
from knowledge.indexing import current_generation
from knowledge.settings import KnowledgeSettings
from tests.e2e.console_documents import NOTICE_TITLE, NOTICE_V1
from tests.scaled.conftest import CONSOLE_PASSWORD, WECHAT_TOKEN, ScaledAssistant

pytestmark = pytest.mark.scaled

CITED = "——出自"
RETRY_LATER = "稍后再试"
# The enterprise-category form, answered one question per turn.
FORM_TURNS = ["帮我判断下我们公司是哪类", "做家具加工的", "是", "是", "否", "是", "不是重点项目", "否"]
POLICY_QUESTIONS = [
    "审批有没有绿色通道？", "重污染天气预警提前几天发布？", "工业用电有没有便宜的价格",
    "供暖季工厂要不要轮流停产", "哪些企业会被关停", "环保财税政策有哪些",
]


def new_user(prefix: str = "scaled") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_every_service_is_up_behind_the_balancer(scaled: ScaledAssistant) -> None:
    assert httpx.get(f"{scaled.front}/nginx/ready").status_code == 200
    assert {p.name for p in scaled.deployment if p.running} >= {
        "postgresql", "redis", "rasa server 1", "rasa server 2", "action server 1",
        "action server 2", "nginx", "staff console"}
    reply = scaled.reply(new_user(), "审批有没有绿色通道？")
    assert CITED in reply and "工作任务 第1条" in reply


def test_turns_alternating_between_instances_keep_slots_and_form_state(
        scaled: ScaledAssistant) -> None:
    alternating, single = new_user("alt"), new_user("one")
    saw_form = False
    for i, message in enumerate(FORM_TURNS):
        scaled.reply(alternating, message, scaled.instance_url(1 + i % 2))
        scaled.reply(single, message, scaled.instance_url(1))
        # Read back through the instance that did not take the turn.
        spread = scaled.tracker(alternating, scaled.instance_url(2 - i % 2))
        one = scaled.tracker(single, scaled.instance_url(1))
        assert _loop(spread) == _loop(one), f"turn {i + 1}: {message}"
        assert spread["slots"] == one["slots"], f"turn {i + 1}: {message}"
        saw_form = saw_form or bool(spread["active_loop"].get("name"))
    assert saw_form, "the form never became active"
    final = scaled.tracker(alternating, scaled.instance_url(1))["latest_message"]
    assert final["text"] == FORM_TURNS[-1]
    assessment = "\n".join(e.get("text") or "" for e in scaled.events(alternating)[-12:]
                           if e["event"] == "bot")
    assert "分类监督管理" in assessment or "分类监管" in assessment


def test_concurrent_messages_from_one_user_are_never_interleaved(
        scaled: ScaledAssistant) -> None:
    user = new_user("burst")

    def send(indexed: tuple[int, str]) -> tuple[str, str]:
        i, message = indexed
        return message, scaled.reply(user, message, scaled.instance_url(1 + i % 2))

    with ThreadPoolExecutor(len(POLICY_QUESTIONS)) as pool:
        replies = dict(pool.map(send, enumerate(POLICY_QUESTIONS)))
    assert all(r and RETRY_LATER not in r for r in replies.values()), replies

    events = scaled.events(user)
    turns: list[list[dict]] = []
    for event in events:
        if event["event"] == "user":
            # A new turn starts only once the previous one has finished (action_listen).
            if turns:
                assert turns[-1][-1].get("name") == "action_listen", _describe(turns[-1])
            turns.append([event])
        elif turns:
            turns[-1].append(event)
    assert sorted(t[0]["text"] for t in turns) == sorted(POLICY_QUESTIONS)
    for turn in turns:  # and each turn holds exactly the answer its sender received
        said = "\n".join(e["text"] for e in turn if e["event"] == "bot" and e.get("text"))
        assert said == replies[turn[0]["text"]]


def _loop(tracker: dict) -> dict:
    """The form state, less the per-message id Rasa puts in its trigger message."""
    loop = dict(tracker["active_loop"])
    loop.get("trigger_message", {}).pop("message_id", None)
    return loop


def _describe(turn: list[dict]) -> str:
    return " > ".join(e.get("name") or e["event"] for e in turn)


def test_a_wechat_retry_reaching_the_other_instance_is_not_answered_again(
        scaled: ScaledAssistant) -> None:
    openid = f"oScaled{uuid.uuid4().hex[:16]}"
    ts, nonce = str(int(time.time())), "20261129"
    signature = hashlib.sha1("".join(sorted([WECHAT_TOKEN, ts, nonce])).encode()).hexdigest()
    xml = (f"<xml><ToUserName><![CDATA[gh_scaled]]></ToUserName>"
           f"<FromUserName><![CDATA[{openid}]]></FromUserName><CreateTime>{ts}</CreateTime>"
           f"<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[审批有没有绿色通道？]]></Content>"
           f"<MsgId>{int(time.time() * 1000)}</MsgId></xml>").encode()
    params = {"signature": signature, "timestamp": ts, "nonce": nonce, "openid": openid}

    def post(n: int) -> str:
        url = f"{scaled.instance_url(n)}/webhooks/wechat/webhook"
        resp = scaled.client.post(url, params=params, content=xml)
        assert resp.status_code == 200
        return resp.text

    assert CITED in post(1)
    assert post(2) == "success"  # WeChat's retry, on the other instance: acknowledged only
    users = [e for e in scaled.events(openid) if e["event"] == "user"]
    assert [e["text"] for e in users] == ["审批有没有绿色通道？"]


def log_in_as_admin(console: httpx.Client) -> None:
    """As the console page does: the session's CSRF token goes with every later change."""
    resp = console.post("/api/login", json={"username": "admin", "password": CONSOLE_PASSWORD})
    assert resp.status_code == 200
    console.headers[CSRF_HEADER] = resp.headers[CSRF_HEADER]


def test_staff_take_over_through_any_instance(scaled: ScaledAssistant) -> None:
    user = new_user("handoff")
    first = scaled.client.post(f"{scaled.instance_url(1)}/webhooks/rest/webhook",
                               json={"sender": user, "message": "转人工"})
    assert "人工" in "\n".join(m.get("text", "") for m in first.json())
    outbox_token = first.headers[OUTBOX_TOKEN_HEADER]  # the client that owns the conversation
    with httpx.Client(base_url=scaled.settings.console_url, timeout=60) as console:
        log_in_as_admin(console)
        queue = console.get("/api/queue").json()
        assert any(item["sender_id"] == user and item["kind"] == "handoff" for item in queue)
        assert console.post(f"/api/conversations/{user}/takeover").status_code == 200
        # The user writes to the other instance: it knows staff have the conversation.
        assert HUMAN_HAS_TAKEN_OVER in scaled.reply(user, "还在吗", scaled.instance_url(2))
        sent = console.post(f"/api/conversations/{user}/reply", json={"text": "您好，我是小李"})
        assert sent.json() == {"delivered_via": "rest"}
        outbox = httpx.get(f"{scaled.instance_url(1)}/webhooks/rest/outbox",
                           params={"sender": user},
                           headers={OUTBOX_TOKEN_HEADER: outbox_token}).json()
        assert [m["text"] for m in outbox] == ["您好，我是小李"]
        assert console.post(f"/api/conversations/{user}/release").status_code == 200
    assert CITED in scaled.reply(user, "审批有没有绿色通道？", scaled.instance_url(2))


def test_a_document_published_in_the_console_is_served_by_every_action_server(
        scaled: ScaledAssistant) -> None:
    before = current_generation(KnowledgeSettings(home=scaled.kb_home).index_root)
    with httpx.Client(base_url=scaled.settings.console_url, timeout=120) as console:
        log_in_as_admin(console)
        uploaded = console.post(
            "/api/kb/upload",
            files={"file": ("notice.txt", NOTICE_V1.encode(), "text/plain")},
            data={"doc_id": "credit-repair-notice", "version": "v1",
                  "effective": "2026-01-01", "title": NOTICE_TITLE})
        assert uploaded.status_code == 200, uploaded.text
        job = console.post("/api/kb/publish", json={"doc_id": "credit-repair-notice",
                                                    "version": "v1"}).json()
        deadline = time.monotonic() + 120
        while job["state"] == "running" and time.monotonic() < deadline:
            time.sleep(0.3)
            job = console.get(f"/api/kb/jobs/{job['id']}").json()
        assert job["state"] == "published", job
    live = current_generation(KnowledgeSettings(home=scaled.kb_home).index_root)
    assert live is not None and live != before
    published = live.name
    # Each action server picks the new generation up on a question, within seconds.
    deadline = time.monotonic() + 60
    while {scaled.action_generation(1), scaled.action_generation(2)} != {published}:
        assert time.monotonic() < deadline, "an action server kept the old generation"
        scaled.reply(new_user("kb"), "企业信用修复的办理时限是几天")
    for _ in range(2):  # round-robin: both action servers answer from it
        assert "15个工作日" in scaled.reply(new_user("kb"), "企业信用修复的办理时限是几天")


def test_action_servers_down_gives_polite_retry_and_a_logged_error_then_recovers(
        scaled: ScaledAssistant) -> None:
    user = new_user("down")
    servers = [scaled.action_server(1), scaled.action_server(2)]
    for server in servers:
        server.stop()
    try:
        reply = scaled.reply(user, "审批有没有绿色通道？")
        assert RETRY_LATER in reply and CITED not in reply
        logs = "".join(scaled.rasa(n).log_path.read_text(errors="replace") for n in (1, 2))
        assert f"sender={user} turn produced no reply" in logs
    finally:
        for server in servers:
            scaled.restart(server)
    scaled.wait_until_balanced()
    reply = scaled.reply(user, "审批有没有绿色通道？")
    assert CITED in reply and "工作任务 第1条" in reply


def test_killing_an_instance_of_each_tier_under_load_loses_no_acknowledged_turn(
        scaled: ScaledAssistant) -> None:
    victims = [scaled.rasa(2), scaled.action_server(2)]
    killed_at: list[float] = []
    turns_done = itertools.count(1)

    def kill_after_some_turns(turn: Turn) -> None:
        if next(turns_done) == 30:
            for victim in victims:
                victim.kill()
            killed_at.append(time.monotonic())

    plan = LoadPlan(users=12, turns_per_user=8, duration=120, think=(0.2, 0.8),
                    name_prefix="fault")
    try:
        turns = asyncio.run(run_load(scaled.front, plan, kill_after_some_turns))
    finally:
        for victim in victims:
            scaled.restart(victim)
        scaled.wait_until_balanced()
    assert killed_at, "the load ended before the kill"
    after = [t for t in turns if t.started > killed_at[0]]
    assert len(after) >= 30
    # Only a turn that an instance was working on when it died may go unanswered.
    lost = [t for t in turns if not t.acknowledged]
    assert all(t.started < killed_at[0] for t in lost), lost
    assert len(lost) <= plan.users
    # The survivors answer everyone after the kill, with real answers.
    assert all(t.acknowledged for t in after)
    retry_later = [t for t in after if any(RETRY_LATER in r for r in t.replies)]
    assert len(retry_later) <= len(after) // 20, retry_later

    # Every acknowledged turn is in PostgreSQL, in the order the user sent it.
    acked: dict[str, list[str]] = defaultdict(list)
    for turn in sorted(turns, key=lambda t: t.started):
        if turn.acknowledged:
            acked[turn.user].append(turn.message)
    for user, messages in acked.items():
        stored = iter(e["text"] for e in scaled.events(user) if e["event"] == "user")
        assert all(m in stored for m in messages), f"{user}: {messages}"  # subsequence

    # The restarted instance carries on a conversation the load began.
    some_user = next(iter(acked))
    before = len([e for e in scaled.events(some_user) if e["event"] == "user"])
    assert scaled.reply(some_user, "审批有没有绿色通道？", scaled.instance_url(2))
    assert len([e for e in scaled.events(some_user) if e["event"] == "user"]) == before + 1
