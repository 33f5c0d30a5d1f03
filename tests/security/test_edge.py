"""The user-facing edge (issue 17, findings 2, 8, 9 and 10), against the real servers.

One Rasa server with the REST and WeChat channels (WeChat in plaintext mode, no
customer-service API, a passive budget of 1 s, a configured account id, one allowed CORS
origin) runs on the shared real action server; WeChat's side is played with
`bench.fake_wechat_api.WeChatPusher`, and the console's delivery (`RasaGateway`) talks to the
same server, as in production.

2. staff replies are readable only by the client that owns the conversation, and a REST
   client can neither write into a WeChat user's conversation nor claim the WeChat channel;
8. bodies that are not what the REST channel expects get a 400 with a Chinese reason, and
   CORS is granted only to configured origins, never with credentials;
9. nothing from the request can be injected into a passive reply's XML, whose sender is the
   configured account;
10. a burst of questions from one WeChat user loses no answer.

Issue 26: a text starting with "/" is never a command to Rasa, not even during a staff
takeover (2); REST bodies and metadata are bounded (7); a plaintext WeChat signature carries
one body only (10).
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import sqlite3
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import defusedxml.ElementTree as DET
import httpx
import pytest

from assistant.channels.messages import MESSAGES
from assistant.channels.wechat_config import WeChatSettings
from assistant.console.conversations import TrackerReader
from assistant.console.delivery import DeliveryError, RasaGateway
from assistant.scaleout.ports import free_port
from assistant.servers import ServerProcess, rasa_server
from assistant.settings import RuntimeSettings
from bench.fake_wechat_api import FakeWeChatApi, WeChatPusher
from tests.live_servers import trained_model

pytestmark = pytest.mark.e2e

TOKEN = "edgeWeChatToken"
ACCOUNT = "gh_edge0000test"  # the Official Account's original id (WECHAT_ACCOUNT_ID)
UNUSED_AES_KEY = base64.b64encode(b"policy-assistant-edge-aes-key-32").decode()[:-1]
ALLOWED_ORIGIN = "https://chat.example.cn"
FOREIGN_ORIGIN = "https://evil.example"
OUTBOX_TOKEN = "X-Outbox-Token"
STAFF_TEXT = "您好，我是客服小李，您的材料已收到。"
CITED = "——出自"
CHINESE = re.compile(r"[\u4e00-\u9fff]")
BURST = [
    "审批有没有绿色通道？", "重污染天气预警提前几天发布？", "工业用电有没有便宜的价格",
    "供暖季工厂要不要轮流停产", "哪些企业会被关停", "环保财税政策有哪些",
    "错峰生产企业清单怎么定", "哪些企业优先保障",
]


def new_sender() -> str:
    return f"edge-{uuid.uuid4().hex[:10]}"


def new_openid() -> str:
    return f"oEdge_{uuid.uuid4().hex[:22]}"


@dataclass
class EdgeServer:
    settings: RuntimeSettings
    process: ServerProcess
    pusher: WeChatPusher
    http: httpx.Client

    @property
    def webhook(self) -> str:
        return f"{self.settings.rasa_url}/webhooks/rest/webhook"

    @property
    def outbox_url(self) -> str:
        return f"{self.settings.rasa_url}/webhooks/rest/outbox"

    def rest(self, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
        return self.http.post(self.webhook, json=body, headers=headers)

    def rest_raw(self, content: bytes) -> httpx.Response:
        return self.http.post(self.webhook, content=content,
                              headers={"Content-Type": "application/json"})

    def outbox(self, sender: str, token: str | None = None,
               headers: dict[str, str] | None = None) -> httpx.Response:
        extra = {OUTBOX_TOKEN: token} if token is not None else {}
        return self.http.get(self.outbox_url, params={"sender": sender},
                             headers={**extra, **(headers or {})})

    def user_channels(self, sender: str) -> list[str | None]:
        """input_channel of each user message stored under `sender`, oldest first."""

        with sqlite3.connect(self.settings.tracker_db) as db:
            rows = db.execute("SELECT data FROM events WHERE sender_id = ? AND type_name = 'user'"
                              " ORDER BY id", (sender,)).fetchall()
        return [json.loads(d).get("input_channel") for (d,) in rows]

    def log_size(self) -> int:
        return self.process.log_path.stat().st_size

    def log_since(self, offset: int) -> str:
        with self.process.log_path.open("rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", errors="replace")


@pytest.fixture(scope="module")
def edge(runtime: RuntimeSettings, action_server_process: ServerProcess,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[EdgeServer]:
    settings = runtime.model_copy(update={"rasa_port": free_port(),
                                          "var_dir": Path(tmp_path_factory.mktemp("edge"))})
    env = {"WECHAT_TOKEN": TOKEN, "WECHAT_MODE": "plain", "WECHAT_APPID": "",
           "WECHAT_AES_KEY": "", "WECHAT_SECRET": "", "WECHAT_REPLY_BUDGET": "1",
           "WECHAT_DEDUP_REDIS": "", "WECHAT_ACCOUNT_ID": ACCOUNT,
           "REST_CORS_ORIGINS": ALLOWED_ORIGIN}
    process = rasa_server(settings, trained_model(), env=env)
    with httpx.Client(timeout=60) as http:
        pusher = WeChatPusher(f"{settings.rasa_url}/webhooks/wechat/webhook", TOKEN,
                              "wx00edge0test0", UNUSED_AES_KEY, http, account=ACCOUNT)
        process.start()
        try:
            process.wait_healthy(300)
            # The first turn of a fresh server is slow (models load lazily): take it here.
            http.post(f"{settings.rasa_url}/webhooks/rest/webhook",
                      json={"sender": "warm-up", "message": BURST[0]})
            yield EdgeServer(settings, process, pusher, http)
        finally:
            process.stop()


def staff_reply(settings: RuntimeSettings, sender: str, channel: str, text: str,
                wechat: WeChatSettings | None = None) -> str | None:
    """What the console does when staff answer: store the reply, deliver it on the channel."""

    async def reply() -> str | None:
        gateway = RasaGateway(settings, wechat=wechat or WeChatSettings())
        try:
            return await gateway.reply(sender, channel, text, "staff1")
        except DeliveryError:  # stored, but this console has no WeChat API to push it with
            return None
        finally:
            await gateway.close()

    return asyncio.run(reply())


def chinese_reason(resp: httpx.Response) -> str:
    body = resp.json()
    assert isinstance(body, dict), body
    reason = str(body.get("message") or "")
    assert CHINESE.search(reason), body
    return reason


# -- 2. staff replies and conversations belong to their channel and client -------------------
def test_outbox_is_readable_only_with_the_token_its_conversation_was_given(
        edge: EdgeServer) -> None:
    user = new_sender()
    first = edge.rest({"sender": user, "message": "你好"})
    assert first.status_code == 200 and first.json()
    assert staff_reply(edge.settings, user, "rest", STAFF_TEXT) == "rest"

    anonymous = edge.outbox(user)
    assert anonymous.status_code in (401, 403) and STAFF_TEXT not in anonymous.text
    forged = edge.outbox(user, token="0" * 64)
    assert forged.status_code == 403 and STAFF_TEXT not in forged.text
    someone_else = edge.rest({"sender": new_sender(), "message": "你好"})
    stolen = edge.outbox(user, token=someone_else.headers.get(OUTBOX_TOKEN, "x"))
    assert stolen.status_code == 403 and STAFF_TEXT not in stolen.text

    token = first.headers.get(OUTBOX_TOKEN)
    assert token, "the REST reply carries the conversation's outbox token"
    assert edge.rest({"sender": user, "message": "谢谢"}).headers.get(OUTBOX_TOKEN) == token
    mine = edge.outbox(user, token=token)
    assert mine.status_code == 200
    assert [(m["text"], m["staff"]) for m in mine.json()] == [(STAFF_TEXT, "staff1")]


def test_a_rest_client_cannot_write_into_or_read_a_wechat_users_conversation(
        edge: EdgeServer) -> None:
    openid, p = new_openid(), edge.pusher
    assert p.post(p.text_xml(openid, "你好")).status == 200
    assert edge.user_channels(openid) == ["wechat"]
    staff_reply(edge.settings, openid, "wechat", STAFF_TEXT)  # stored in the conversation

    hijack = edge.rest({"sender": openid, "message": "我要转人工"})
    assert 400 <= hijack.status_code < 500, hijack.text
    assert OUTBOX_TOKEN not in hijack.headers
    chinese_reason(hijack)
    assert edge.user_channels(openid) == ["wechat"], "the REST message must not land there"
    peek = edge.outbox(openid)
    assert peek.status_code in (401, 403) and STAFF_TEXT not in peek.text
    conversation = TrackerReader.sqlite(edge.settings.tracker_db).conversation(openid)
    assert conversation is not None and conversation.channel == "wechat"


def test_a_rest_client_cannot_claim_the_wechat_channel_or_its_namespace(
        edge: EdgeServer) -> None:
    user = new_sender()
    spoofed = edge.rest({"sender": user, "message": "我要转人工", "input_channel": "wechat"})
    assert 400 <= spoofed.status_code < 500, spoofed.text
    assert "wechat" not in edge.user_channels(user)
    reserved = edge.rest({"sender": f"wechat:{new_openid()}", "message": "你好"})
    assert 400 <= reserved.status_code < 500, reserved.text
    chinese_reason(reserved)


def test_a_wechat_user_never_lands_in_a_conversation_a_rest_client_opened_first(
        edge: EdgeServer) -> None:
    openid, p = new_openid(), edge.pusher
    # A REST client that learnt (or guessed) the OpenID before the user's first message.
    squatter = edge.rest({"sender": openid, "message": "你好"})
    assert squatter.status_code == 200
    assert p.post(p.text_xml(openid, "我要转人工")).status == 200
    assert edge.user_channels(openid) == ["rest"]
    wechat_conversations = [c for c in TrackerReader.sqlite(edge.settings.tracker_db)
                            .conversations() if openid in c.sender_id and c.channel == "wechat"]
    assert len(wechat_conversations) == 1
    sender = wechat_conversations[0].sender_id
    assert sender != openid and edge.user_channels(sender) == ["wechat"]

    # Staff answering it in the console reach the WeChat user, and only them.
    api = FakeWeChatApi("wx00edge0console", "edge-console-secret").start()
    try:
        wechat = WeChatSettings(app_id=api.app_id, app_secret=api.app_secret, api_base=api.url)
        assert staff_reply(edge.settings, sender, "wechat", STAFF_TEXT, wechat) == "wechat"
        assert [(m.touser, m.content) for m in api.sent] == [(openid, STAFF_TEXT)]
    finally:
        api.stop()
    token = squatter.headers.get(OUTBOX_TOKEN, "")
    assert STAFF_TEXT not in edge.outbox(openid, token=token).text


# -- 8. bad bodies get a clear 400; CORS only for configured origins --------------------------
@pytest.mark.parametrize("body", [
    b'[{"sender": "edge-array", "message": "\xe4\xbd\xa0\xe5\xa5\xbd"}]', b'"hello"', b"42",
    b"null", b"{not json", b"",
], ids=["array", "string", "number", "null", "malformed", "empty"])
def test_a_body_that_is_not_a_json_object_gets_400_with_a_chinese_reason(
        edge: EdgeServer, body: bytes) -> None:
    mark = edge.log_size()
    resp = edge.rest_raw(body)
    assert resp.status_code == 400, resp.text
    chinese_reason(resp)
    assert "Traceback" not in edge.log_since(mark)


@pytest.mark.parametrize("message", [42, ["审批有没有绿色通道？"], {"text": "你好"}, True],
                         ids=["number", "list", "object", "bool"])
def test_a_message_that_is_not_text_gets_400_not_an_empty_list(
        edge: EdgeServer, message: Any) -> None:
    user = new_sender()
    resp = edge.rest({"sender": user, "message": message})
    assert resp.status_code == 400, resp.text
    chinese_reason(resp)
    assert edge.user_channels(user) == []


@pytest.mark.parametrize("body", [
    {"message": "你好"}, {"sender": "", "message": "你好"}, {"sender": None, "message": "你好"},
    {"sender": ["a"], "message": "你好"}, {"sender": {"id": "a"}, "message": "你好"},
    {"sender": "x" * 300, "message": "你好"}, {"sender": "a\x00b", "message": "你好"},
], ids=["missing", "empty", "null", "list", "object", "too-long", "control-character"])
def test_a_missing_or_unusable_sender_gets_400_and_no_shared_conversation(
        edge: EdgeServer, body: dict[str, Any]) -> None:
    before = len(edge.user_channels("default"))
    resp = edge.rest(body)
    assert resp.status_code == 400, resp.text
    chinese_reason(resp)
    assert len(edge.user_channels("default")) == before


def test_a_lone_surrogate_gets_400_and_no_traceback(edge: EdgeServer) -> None:
    for raw in (b'{"sender": "%s", "message": "\\ud800\\u5ba1\\u6279"}',
                b'{"sender": "%s\\udfff", "message": "\\u4f60\\u597d"}'):
        mark = edge.log_size()
        user = new_sender()
        resp = edge.rest_raw(raw.replace(b"%s", user.encode()))
        assert resp.status_code == 400, resp.text
        chinese_reason(resp)
        time.sleep(0.5)
        assert "Traceback" not in edge.log_since(mark)
        assert edge.user_channels(user) == []


def test_well_formed_messages_still_work(edge: EdgeServer) -> None:
    user = new_sender()
    empty = edge.rest({"sender": user, "message": "  "})
    assert empty.status_code == 200 and "请直接输入" in empty.json()[0]["text"]
    answered = edge.rest({"sender": user, "message": "审批有没有绿色通道？"})
    assert answered.status_code == 200 and CITED in answered.json()[0]["text"]
    numeric = edge.rest({"sender": 4242, "message": "你好"})  # Rasa has always taken these
    assert numeric.status_code == 200 and numeric.json()


def test_cors_is_granted_only_to_configured_origins_and_never_with_credentials(
        edge: EdgeServer) -> None:
    preflight = {"Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "content-type"}
    for url in (edge.webhook, edge.outbox_url):
        foreign = edge.http.options(url, headers={"Origin": FOREIGN_ORIGIN, **preflight})
        assert "access-control-allow-origin" not in foreign.headers, foreign.headers
        assert "access-control-allow-credentials" not in foreign.headers
    posted = edge.rest({"sender": new_sender(), "message": "你好"},
                       headers={"Origin": FOREIGN_ORIGIN})
    assert "access-control-allow-origin" not in posted.headers, posted.headers
    assert "access-control-allow-credentials" not in posted.headers

    allowed = edge.http.options(edge.webhook, headers={"Origin": ALLOWED_ORIGIN, **preflight})
    assert allowed.headers.get("access-control-allow-origin") == ALLOWED_ORIGIN
    assert "access-control-allow-credentials" not in allowed.headers
    answered = edge.rest({"sender": new_sender(), "message": "你好"},
                         headers={"Origin": ALLOWED_ORIGIN})
    assert answered.headers.get("access-control-allow-origin") == ALLOWED_ORIGIN
    assert "access-control-allow-credentials" not in answered.headers
    exposed = answered.headers.get("access-control-expose-headers", "").lower()
    assert OUTBOX_TOKEN.lower() in exposed
    outbox_preflight = edge.http.options(edge.outbox_url, headers={
        "Origin": ALLOWED_ORIGIN, "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": OUTBOX_TOKEN.lower()})
    assert outbox_preflight.headers.get("access-control-allow-origin") == ALLOWED_ORIGIN
    assert OUTBOX_TOKEN.lower() in outbox_preflight.headers.get(
        "access-control-allow-headers", "").lower()


# -- 9. passive replies: the configured sender, every value escaped ---------------------------
def _signed_post(edge: EdgeServer, body: str) -> httpx.Response:
    ts, nonce = str(int(time.time())), str(uuid.uuid4().int % 10**9)
    params = {"signature": edge.pusher.sign(ts, nonce), "timestamp": ts, "nonce": nonce}
    return edge.http.post(edge.pusher.webhook, params=params, content=body.encode(),
                          headers={"Content-Type": "text/xml"})


def test_to_user_name_cannot_inject_into_the_passive_reply(edge: EdgeServer) -> None:
    openid = new_openid()
    hostile = ("gh_x]]&gt;&lt;/FromUserName&gt;&lt;FromUserName&gt;&lt;![CDATA[gh_attacker]]&gt;"
               "&lt;/FromUserName&gt;&lt;Content&gt;&lt;![CDATA[pwned")
    xml = (f"<xml><ToUserName>{hostile}</ToUserName>"
           f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
           f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
           f"<Content><![CDATA[你好]]></Content><MsgId>{edge.pusher.next_msg_id()}</MsgId></xml>")
    resp = _signed_post(edge, xml)
    assert "gh_attacker" not in resp.text and "pwned" not in resp.text, resp.text
    if resp.status_code == 200 and resp.text.strip().startswith("<xml"):
        fields = {c.tag: c.text for c in DET.fromstring(resp.text)}
        assert fields["FromUserName"] == ACCOUNT and fields["ToUserName"] == openid
        assert set(fields) == {"ToUserName", "FromUserName", "CreateTime", "MsgType", "Content"}
    else:
        assert resp.status_code == 400, (resp.status_code, resp.text)


def test_a_passive_reply_comes_from_the_configured_account(edge: EdgeServer) -> None:
    openid, p = new_openid(), edge.pusher
    reply = p.post(p.text_xml(openid, "你好"))
    assert reply.status == 200 and reply.fields["FromUserName"] == ACCOUNT
    assert reply.fields["ToUserName"] == openid


# -- 10. a burst from one WeChat user loses no answer -----------------------------------------
def test_a_burst_of_questions_from_one_user_loses_no_answer(edge: EdgeServer) -> None:
    openid, p = new_openid(), edge.pusher
    xmls = [p.text_xml(openid, q) for q in BURST]
    with ThreadPoolExecutor(len(BURST)) as pool:  # eight questions at the same moment
        replies = list(pool.map(p.post, xmls))
    assert all(r.status == 200 and r.content for r in replies), replies
    late = [q for q, r in zip(BURST, replies, strict=True) if CITED not in (r.content or "")]
    assert late, "every answer was ready within the budget: the burst proves nothing"

    delivered: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not all(q in "".join(delivered) for q in late):
        reply = p.post(p.text_xml(openid, "继续"))
        assert reply.status == 200
        delivered.append(reply.content or "")
        time.sleep(0.5)
    text = "\n".join(delivered)
    missing = [q for q in late if q not in text]
    assert not missing, f"answers never delivered for {missing}; got {delivered}"
    assert text.count(CITED) >= len(late)
    for q, r in zip(BURST, replies, strict=True):
        if q in late:  # the placeholder said the answer would come, not "ask again"
            assert "再发一次" not in (r.content or "") and "继续" in (r.content or ""), r.content


# -- issue 26, 2. a user's text is never a command to Rasa ------------------------------------
# Rasa reads a text starting with "/" as an intent with entities. The NLU tokenizer normalises
# (NFKC, lower case) before Rasa looks, so the full-width slash an IME types and upper case are
# the same command.
RESTARTS = ["/restart", "／restart", " /RESTART", "/session_start",
            '/inform_enterprise{"industry": "钢铁"}', "/affirm"]
NOT_FROM_NLU = {"restart", "session_start"}  # intents the NLU cannot predict: only injected


def _take_over(settings: RuntimeSettings, sender: str) -> None:
    async def pause() -> None:
        gateway = RasaGateway(settings, wechat=WeChatSettings())
        try:
            await gateway.take_over(sender, "staff1")
        finally:
            await gateway.close()

    asyncio.run(pause())


def _stored_events(settings: RuntimeSettings, sender: str) -> list[tuple[str, dict]]:
    with sqlite3.connect(settings.tracker_db) as db:
        rows = db.execute("SELECT type_name, data FROM events WHERE sender_id = ? ORDER BY id",
                          (sender,)).fetchall()
    return [(t, json.loads(d)) for t, d in rows]


def test_a_user_cannot_end_a_takeover_by_typing_a_command(edge: EdgeServer) -> None:
    user = new_sender()
    assert edge.rest({"sender": user, "message": "审批有没有绿色通道？"}).status_code == 200
    _take_over(edge.settings, user)
    paused_at = len(_stored_events(edge.settings, user))
    for text in RESTARTS:
        resp = edge.rest({"sender": user, "message": text})
        assert resp.status_code == 200, resp.text
        assert [m.get("text") for m in resp.json()] == [MESSAGES.human_has_taken_over], (
            text, resp.json())

    tracker = edge.http.get(f"{edge.settings.rasa_url}/conversations/{user}/tracker",
                            params={"token": edge.settings.rasa_api_token}).json()
    assert tracker["paused"] is True
    after = _stored_events(edge.settings, user)[paused_at:]
    assert [t for t, _ in after] == ["user"] * len(RESTARTS), after  # no restart, no slot
    for text, (_, event) in zip(RESTARTS, after, strict=True):
        assert event["parse_data"]["intent"].get("name") not in NOT_FROM_NLU, (text, event)
        assert not event["parse_data"].get("entities"), (text, event)
    conv = TrackerReader.sqlite(edge.settings.tracker_db).conversation(user)
    assert conv is not None and conv.paused
    shown = [t.text for t in conv.turns[-len(RESTARTS):]]  # staff read what the user wrote
    assert [s[1:].strip() for s in shown] == [t.strip()[1:] for t in RESTARTS], shown


def test_a_command_typed_outside_a_takeover_is_only_text(edge: EdgeServer) -> None:
    user = new_sender()
    resp = edge.rest({"sender": user, "message": "/restart"})
    assert resp.status_code == 200 and resp.json()
    openid, p = new_openid(), edge.pusher
    assert p.post(p.text_xml(openid, "／session_start")).status == 200
    for sender in (user, openid):
        kinds = [t for t, _ in _stored_events(edge.settings, sender)]
        assert "restart" not in kinds and kinds.count("session_started") <= 1, kinds
        intents = [e["parse_data"]["intent"].get("name")
                   for t, e in _stored_events(edge.settings, sender) if t == "user"]
        assert intents and not set(intents) & NOT_FROM_NLU, intents


# -- issue 26, 7. REST bodies and metadata are bounded -----------------------------------------
def test_a_big_rest_body_or_metadata_gets_413_and_nothing_is_stored(edge: EdgeServer) -> None:
    huge, large = new_sender(), new_sender()
    resp = edge.rest({"sender": huge, "message": "你好", "metadata": {"x": "y" * 2_000_000}})
    assert resp.status_code == 413, resp.status_code
    chinese_reason(resp)
    # Under the body limit, but far more metadata than a client needs to describe its page.
    resp = edge.rest({"sender": large, "message": "你好", "metadata": {"x": "y" * 20_000}})
    assert resp.status_code == 413, resp.status_code
    chinese_reason(resp)
    assert _stored_events(edge.settings, huge) == [] and _stored_events(edge.settings, large) == []
    small = edge.rest({"sender": new_sender(), "message": "你好", "metadata": {"page": "/faq"}})
    assert small.status_code == 200 and small.json()


# -- issue 26, 10. a plaintext signature is good for one body ----------------------------------
def test_a_plaintext_signature_cannot_be_replayed_with_another_body(edge: EdgeServer) -> None:
    p = edge.pusher
    victim, forger = new_openid(), new_openid()
    ts, nonce = str(int(time.time())), str(uuid.uuid4().int % 10**9)
    params = {"signature": p.sign(ts, nonce), "timestamp": ts, "nonce": nonce}
    original = p.text_xml(victim, "你好").encode()

    def post(body: bytes) -> httpx.Response:
        return edge.http.post(p.webhook, params=params, content=body,
                              headers={"Content-Type": "text/xml"})

    assert post(original).status_code == 200
    retry = post(original)  # WeChat's own retry of the same message: acknowledged
    assert retry.status_code == 200 and retry.text == "success", retry.text
    forged = post(p.text_xml(forger, "转人工").encode())
    assert forged.status_code == 403, (forged.status_code, forged.text)
    assert edge.user_channels(forger) == []
