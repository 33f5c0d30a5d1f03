"""End-to-end: WeChat's requests through the real Rasa server and the real action server.

Two Rasa servers load the channel from credentials.yml with test values in the environment:
one with the default passive-reply budget, one with a budget of 0 so that every answer takes the
asynchronous customer-service API path. The WeChat API they push to is `FakeWeChatApi` on
127.0.0.1: the only thing faked (WeChat's servers cannot be reached from here).
"""

from __future__ import annotations

import base64
import sqlite3
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from assistant.servers import ServerProcess, rasa_server
from assistant.settings import RuntimeSettings
from bench.fake_wechat_api import FakeWeChatApi, WeChatPusher
from tests.live_servers import free_port, trained_model

pytestmark = pytest.mark.e2e

TOKEN = "e2eWeChatToken"
APP_ID = "wx00e2e0test0app0"
SECRET = "e2e-app-secret"
AES_KEY = base64.b64encode(b"policy-assistant-e2e-aes-key-32b").decode()[:-1]
DOC = "《关于进一步强化生态环境领域差别化管控措施 切实做好高质量项目服务保障的意见》"
CITED = "——出自"
QUESTION, ANSWER_PART, CITATION = (
    "重污染天气预警提前几天发布？", "提前1至2天", f"{CITED}{DOC}工作任务 第2条")


@dataclass
class WeChatServer:
    settings: RuntimeSettings
    process: ServerProcess
    pusher: WeChatPusher

    def user_events(self, sender: str) -> list[str]:
        with sqlite3.connect(self.settings.tracker_db) as db:
            rows = db.execute(
                "SELECT type_name FROM events WHERE sender_id = ? ORDER BY id", (sender,)
            ).fetchall()
        return [t for (t,) in rows if t == "user"]

    def log(self) -> str:
        return self.process.log_path.read_text(errors="replace")


def openid() -> str:
    return f"oE2E_{uuid.uuid4().hex[:20]}"


@pytest.fixture(scope="module")
def fake_api() -> Iterator[FakeWeChatApi]:
    api = FakeWeChatApi(APP_ID, SECRET).start()
    yield api
    api.stop()


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def wechat_servers(
    runtime: RuntimeSettings, action_server_process: ServerProcess, fake_api: FakeWeChatApi,
    http: httpx.Client, tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, WeChatServer]]:
    """Two Rasa servers on the shared action server, started side by side."""
    model = trained_model()
    env = {"WECHAT_TOKEN": TOKEN, "WECHAT_APPID": APP_ID, "WECHAT_AES_KEY": AES_KEY,
           "WECHAT_SECRET": SECRET, "WECHAT_API_BASE": fake_api.url,
           "WECHAT_MODE": "compatible"}
    servers: dict[str, WeChatServer] = {}
    for name, budget in (("passive", "4"), ("async", "0")):
        settings = runtime.model_copy(update={"rasa_port": free_port(), "var_dir": Path(tmp_path_factory.mktemp(f"wechat-{name}"))})
        process = rasa_server(settings, model, env={**env, "WECHAT_REPLY_BUDGET": budget})
        pusher = WeChatPusher(f"{settings.rasa_url}/webhooks/wechat/webhook", TOKEN, APP_ID,
                              AES_KEY, http)
        servers[name] = WeChatServer(settings, process, pusher)
    try:
        for server in servers.values():
            server.process.start()
        for server in servers.values():
            server.process.wait_healthy(300)
            # The first turn of a fresh server is slow (models load lazily): take it here.
            http.post(f"{server.settings.rasa_url}/webhooks/rest/webhook",
                      json={"sender": "warm-up", "message": QUESTION}).raise_for_status()
        yield servers
    finally:
        for server in servers.values():
            server.process.stop()


@pytest.fixture(scope="module")
def passive(wechat_servers: dict[str, WeChatServer]) -> WeChatServer:
    return wechat_servers["passive"]


@pytest.fixture(scope="module")
def async_server(wechat_servers: dict[str, WeChatServer]) -> WeChatServer:
    return wechat_servers["async"]


def test_channel_is_loaded_from_credentials(passive: WeChatServer, http: httpx.Client) -> None:
    health = http.get(f"{passive.settings.rasa_url}/webhooks/wechat/").json()
    assert health["enabled"] is True and health["mode"] == "compatible"
    assert health["customer_service_api"] is True
    assert SECRET not in str(health) and TOKEN not in str(health)


def test_url_verification(passive: WeChatServer) -> None:
    p = passive.pusher
    good = p.verify_url("8243019514872961234")
    assert (good.status_code, good.text) == (200, "8243019514872961234")
    assert p.verify_url("1", signature="0" * 40).status_code == 403
    assert p.verify_url("1", timestamp=int(time.time()) - 3600).status_code == 403


@pytest.mark.parametrize("encrypted", [False, True], ids=["plaintext", "safe-mode"])
def test_question_gets_the_clause_with_its_citation_as_passive_reply(
    passive: WeChatServer, fake_api: FakeWeChatApi, encrypted: bool
) -> None:
    user = openid()
    reply = passive.pusher.post(passive.pusher.text_xml(user, QUESTION), encrypted=encrypted)
    assert reply.status == 200
    assert reply.content is not None, f"expected a passive reply, got {reply.body!r}"
    assert ANSWER_PART in reply.content and CITATION in reply.content
    assert reply.fields["ToUserName"] == user and reply.fields["MsgType"] == "text"
    if encrypted:
        assert "<Encrypt>" in reply.body and ANSWER_PART not in reply.body
    assert fake_api.messages_to(user) == []
    assert passive.user_events(user) == ["user"]  # the OpenID is the Rasa sender id


def test_conversation_continues_per_openid(passive: WeChatServer) -> None:
    user, p = openid(), passive.pusher
    first = p.post(p.text_xml(user, "审批有没有绿色通道？"))
    assert first.content and "绿色通道" in first.content
    second = p.post(p.text_xml(user, "我要转人工"), encrypted=True)
    assert second.content and "人工" in second.content
    assert passive.user_events(user) == ["user", "user"]


def test_voice_recognition_is_treated_as_text(passive: WeChatServer) -> None:
    user, p = openid(), passive.pusher
    voice = p.message_xml(
        user, "voice", "<MediaId><![CDATA[m1]]></MediaId><Format><![CDATA[amr]]></Format>"
        "<Recognition><![CDATA[錯峰生產企業清單怎麼定]]></Recognition>", msg_id=p.next_msg_id())
    reply = p.post(voice)
    assert reply.content and "错峰生产企业清单" in reply.content and CITED in reply.content
    silent = p.message_xml(user, "voice", "<MediaId>m2</MediaId><Recognition></Recognition>",
                           msg_id=p.next_msg_id())
    assert "请直接输入文字问题" in (p.post(silent).content or "")


@pytest.mark.parametrize(
    ("msg_type", "body"),
    [
        ("image", "<PicUrl><![CDATA[http://127.0.0.1/x.jpg]]></PicUrl><MediaId>m</MediaId>"),
        ("location", "<Location_X>38.04</Location_X><Location_Y>114.51</Location_Y>"
                     "<Scale>15</Scale><Label><![CDATA[石家庄]]></Label>"),
        ("link", "<Title>t</Title><Description>d</Description><Url>http://127.0.0.1/</Url>"),
        ("video", "<MediaId>m</MediaId><ThumbMediaId>t</ThumbMediaId>"),
        ("file", "<Title>a.pdf</Title><FileKey>k</FileKey>"),
    ],
)
def test_other_message_types_get_a_polite_please_type(
    passive: WeChatServer, msg_type: str, body: str
) -> None:
    user, p = openid(), passive.pusher
    reply = p.post(p.message_xml(user, msg_type, body, msg_id=p.next_msg_id()))
    assert reply.content and "请直接输入文字问题" in reply.content
    assert passive.user_events(user) == []


def test_subscribe_gets_a_welcome_and_unsubscribe_is_recorded(passive: WeChatServer) -> None:
    user, p = openid(), passive.pusher
    welcome = p.post(p.event_xml(user, "subscribe"), encrypted=True)
    assert welcome.content and "欢迎关注" in welcome.content and "绿色通道" in welcome.content
    bye = p.post(p.event_xml(user, "unsubscribe", create_time=int(time.time()) + 1))
    assert (bye.status, bye.body) == (200, "success")
    assert f"unsubscribe openid={user}" in passive.log()


def test_retry_is_never_answered_twice_even_while_the_first_is_in_flight(
    passive: WeChatServer, fake_api: FakeWeChatApi
) -> None:
    user, p = openid(), passive.pusher
    msg_id = p.next_msg_id()
    xml = p.text_xml(user, "审批有没有绿色通道？", msg_id=msg_id)
    with ThreadPoolExecutor(3) as pool:  # WeChat's retries racing the first delivery
        replies = list(pool.map(lambda enc: p.post(xml, encrypted=enc), [False, True, False]))
    answered = [r for r in replies if r.content]
    assert len(answered) == 1 and "绿色通道" in answered[0].content
    assert sorted(r.body for r in replies if not r.content) == ["success", "success"]
    late = p.post(xml, encrypted=True)  # a late retry, after the answer went out
    assert (late.status, late.body) == (200, "success")
    time.sleep(1)
    assert fake_api.messages_to(user) == []
    assert passive.user_events(user) == ["user"]
    assert passive.log().count(f"retry of msg:{msg_id} from {user} acknowledged") == 3


def test_async_path_delivers_through_the_customer_service_api(
    async_server: WeChatServer, fake_api: FakeWeChatApi
) -> None:
    user, p = openid(), async_server.pusher
    started = time.monotonic()
    reply = p.post(p.text_xml(user, QUESTION), encrypted=True)
    assert (reply.status, reply.body) == (200, "success")
    assert time.monotonic() - started < 2, "the webhook must answer at once"
    delivered = fake_api.wait_for(user, 1, timeout=60)
    assert len(delivered) == 1
    assert ANSWER_PART in delivered[0] and CITATION in delivered[0]
    assert len(delivered[0].encode()) <= 2048


def test_async_retries_are_delivered_once_and_the_token_is_reused_then_renewed(
    async_server: WeChatServer, fake_api: FakeWeChatApi
) -> None:
    user, p = openid(), async_server.pusher
    msg_id = p.next_msg_id()
    xml = p.text_xml(user, "审批有没有绿色通道？", msg_id=msg_id)
    for encrypted in (False, True, False):  # the original and WeChat's retries
        assert p.post(xml, encrypted=encrypted).body == "success"
    assert len(fake_api.wait_for(user, 1, timeout=60)) == 1
    assert async_server.log().count(f"retry of msg:{msg_id} from {user} acknowledged") == 2
    tokens_before = fake_api.token_requests
    assert p.post(p.text_xml(user, "你好")).body == "success"
    assert len(fake_api.wait_for(user, 2, timeout=60)) == 2
    assert fake_api.token_requests == tokens_before, "a valid token is cached, not refetched"

    fake_api.revoke_tokens()  # WeChat now answers 40001 to the cached token
    assert p.post(p.text_xml(user, "哪些企业优先保障")).body == "success"
    delivered = fake_api.wait_for(user, 3, timeout=60)
    assert len(delivered) == 3 and CITED in delivered[2]
    assert fake_api.token_requests == tokens_before + 1
    time.sleep(1)
    assert len(fake_api.messages_to(user)) == 3
    assert async_server.user_events(user) == ["user", "user", "user"]


def test_forged_or_stale_requests_are_refused_and_never_processed(
    passive: WeChatServer, fake_api: FakeWeChatApi
) -> None:
    user, p = openid(), passive.pusher
    xml = p.text_xml(user, QUESTION)
    assert p.post(xml, signature="0" * 40).status == 403
    assert p.post(xml, timestamp=int(time.time()) - 3600).status == 403
    assert p.post(xml, encrypted=True, msg_signature="a" * 40).status == 403
    # correctly signed, but not decryptable with our key
    ts, nonce, cipher = str(int(time.time())), "12345", base64.b64encode(b"x" * 64).decode()
    resp = p.client.post(p.webhook, params={
        "timestamp": ts, "nonce": nonce, "encrypt_type": "aes",
        "signature": p.sign(ts, nonce), "msg_signature": p.sign(ts, nonce, cipher)},
        content=f"<xml><Encrypt><![CDATA[{cipher}]]></Encrypt></xml>")
    assert resp.status_code == 400
    assert passive.user_events(user) == [] and fake_api.messages_to(user) == []
    assert "wrong signature" in passive.log() and "undecryptable" in passive.log()


BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
              for i in range(1, 10))
    + "]><xml><Content>&lol9;</Content></xml>"
)


def test_hostile_and_malformed_xml_is_refused_without_harm(
    passive: WeChatServer, http: httpx.Client
) -> None:
    user, p = openid(), passive.pusher
    xxe = p.text_xml(user, "&xxe;").replace(
        "<xml>", '<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml>', 1)
    for body in (BILLION_LAUGHS, xxe, "<xml><ToUserName>", "\x00\xff garbage"):
        assert p.post(body).status == 400
        assert p.post(body, encrypted=True).status == 400
    started = time.monotonic()
    huge = p.post("", raw_body=b"<xml>" + b"A" * 5_000_000 + b"</xml>")
    assert huge.status == 413 and time.monotonic() - started < 5
    assert passive.user_events(user) == []
    # and the server is unharmed
    reply = p.post(p.text_xml(user, QUESTION))
    assert reply.content and CITATION in reply.content
