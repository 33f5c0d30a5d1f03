"""The console API on its own (no browser), against the real Rasa and action servers.

The console app runs in-process (FastAPI's TestClient); everything behind it is real: Rasa's
HTTP API and REST channel, the action server, the SQLite tracker store, the knowledge base
the action server reads, and a local fake of WeChat's customer-service API.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from assistant.channels.staff_replies import HUMAN_HAS_TAKEN_OVER
from assistant.channels.wechat_config import WeChatSettings
from assistant.console.api.deps import CSRF_HEADER
from assistant.console.app import create_app
from assistant.console.delivery import RasaGateway
from assistant.console.users import ConsoleDatabase
from bench.fake_wechat_api import FakeWeChatApi
from knowledge.knowledge_base import KnowledgeBase
from knowledge.settings import KnowledgeSettings
from tests.e2e.console_documents import NOTICE_TITLE, NOTICE_V1, NOTICE_V2, notice_file
from tests.live_servers import Assistant

pytestmark = pytest.mark.e2e
PASSWORD = "console-test-pw"


@pytest.fixture(scope="module")
def wechat_api() -> Iterator[FakeWeChatApi]:
    api = FakeWeChatApi(app_id="wxconsoletest", app_secret="console-secret").start()
    yield api
    api.stop()


@pytest.fixture(scope="module")
def console(assistant: Assistant, kb_home: Path, wechat_api: FakeWeChatApi,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    db = ConsoleDatabase(tmp_path_factory.mktemp("console") / "console.db")
    db.add_user("admin1", PASSWORD, "admin")
    db.add_user("staff1", PASSWORD, "staff")
    wechat = WeChatSettings(app_id=wechat_api.app_id, app_secret=wechat_api.app_secret,
                            api_base=wechat_api.url)
    app = create_app(assistant.settings, KnowledgeBase(KnowledgeSettings(home=kb_home)), db,
                     RasaGateway(assistant.settings, wechat=wechat))
    with TestClient(app) as client:
        yield client


def login(client: TestClient, who: str) -> None:
    resp = client.post("/api/login", json={"username": who, "password": PASSWORD})
    assert resp.status_code == 200, resp.text
    # As the page does: the session's CSRF token goes back with every state-changing request.
    client.headers[CSRF_HEADER] = resp.headers[CSRF_HEADER]


def test_everything_but_health_needs_a_login(console: TestClient) -> None:
    console.cookies.clear()
    assert console.get("/api/health").json()["status"] == "ok"
    for path in ("/api/me", "/api/conversations", "/api/queue", "/api/kb/documents"):
        assert console.get(path).status_code == 401
    bad = console.post("/api/login", json={"username": "staff1", "password": "wrong-password"})
    assert bad.status_code == 401 and "密码" in bad.json()["detail"]


def test_login_sets_an_http_only_session_and_logout_ends_it(console: TestClient) -> None:
    resp = console.post("/api/login", json={"username": "staff1", "password": PASSWORD})
    cookie = resp.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert console.get("/api/me").json() == {"username": "staff1", "role": "staff"}
    console.post("/api/logout", headers={CSRF_HEADER: resp.headers[CSRF_HEADER]})
    assert console.get("/api/me").status_code == 401


def test_openapi_documents_the_api(console: TestClient) -> None:
    spec = console.get("/api/openapi.json").json()
    for path in ("/api/login", "/api/chat", "/api/queue", "/api/conversations/{sender_id}/reply",
                 "/api/kb/upload", "/api/kb/publish", "/api/kb/jobs/{job_id}"):
        assert path in spec["paths"]


def test_a_chat_turn_is_browsable_with_intent_citation_and_passages(console: TestClient) -> None:
    login(console, "staff1")
    reply = console.post("/api/chat", json={"text": "审批有没有绿色通道？"}).json()
    assert any("绿色通道" in r.get("text", "") for r in reply["replies"])
    sender = reply["sender_id"]
    assert sender in [c["sender_id"] for c in console.get("/api/conversations").json()]
    turn = console.get(f"/api/conversations/{sender}").json()["turns"][-1]
    assert turn["intent"] in ("ask_policy", "ask_measures") and turn["confidence"] > 0.5
    assert turn["citations"] and "《" in turn["citations"][0]
    evidence = turn["retrieval"][0]["evidence"]
    assert evidence and evidence[0]["score"] > 0 and evidence[0]["citation"]


def test_handoff_queue_takeover_reply_and_release_over_rest(
        console: TestClient, assistant: Assistant) -> None:
    login(console, "staff1")
    user = f"rest-user-{uuid.uuid4().hex[:8]}"
    first = assistant.client.post(f"{assistant.settings.rasa_url}/webhooks/rest/webhook",
                                  json={"sender": user, "message": "我要找人工客服"})
    first.raise_for_status()
    outbox_token = first.headers["X-Outbox-Token"]  # the user's client keeps it
    queued = [i for i in console.get("/api/queue").json() if i["sender_id"] == user]
    assert [i["kind"] for i in queued] == ["handoff"]

    assert console.post(f"/api/conversations/{user}/takeover").json() == {"paused": True}
    # While staff hold the conversation the assistant stays quiet but the user is told why.
    assert assistant.reply(user, "电价有优惠吗") == HUMAN_HAS_TAKEN_OVER
    since = time.time()
    sent = console.post(f"/api/conversations/{user}/reply", json={"text": "您好，我是客服小李。"})
    assert sent.json() == {"delivered_via": "rest"}
    outbox = httpx.get(f"{assistant.settings.rasa_url}/webhooks/rest/outbox",
                       params={"sender": user, "after": since - 1},
                       headers={"X-Outbox-Token": outbox_token}).json()
    assert [(m["text"], m["staff"]) for m in outbox] == [("您好，我是客服小李。", "staff1")]
    conv = console.get(f"/api/conversations/{user}").json()
    assert conv["paused"] and conv["turns"][-1]["replies"][-1]["staff"] == "staff1"

    console.post(f"/api/conversations/{user}/release")
    assert "绿色通道" in assistant.reply(user, "审批有没有绿色通道？")
    assert assistant.slots(user)["needs_human"] is False
    key = queued[0]["key"]
    console.post(f"/api/queue/{user}/{key}/resolve")
    assert user not in [i["sender_id"] for i in console.get("/api/queue").json()]


def test_staff_reply_to_a_wechat_user_goes_out_as_a_customer_service_message(
        console: TestClient, assistant: Assistant, wechat_api: FakeWeChatApi) -> None:
    login(console, "staff1")
    openid = f"oConsole_{uuid.uuid4().hex[:12]}"
    # The user's message as the WeChat channel records it (input_channel "wechat").
    httpx.post(f"{assistant.settings.rasa_url}/conversations/{openid}/tracker/events",
               params={"token": assistant.settings.rasa_api_token},
               json=[{"event": "user", "text": "转人工", "input_channel": "wechat",
                      "timestamp": time.time(),
                      "parse_data": {"intent": {"name": "request_human", "confidence": 1.0}}}],
               ).raise_for_status()
    sent = console.post(f"/api/conversations/{openid}/reply", json={"text": "您好，已为您转接。"})
    assert sent.json() == {"delivered_via": "wechat"}
    assert [(m.touser, m.content) for m in wechat_api.sent if m.touser == openid] == \
        [(openid, "您好，已为您转接。")]


def test_only_admins_upload_and_publish_and_answers_follow_the_new_version(
        console: TestClient, assistant: Assistant, tmp_path: Path) -> None:
    doc_id = f"credit-notice-{uuid.uuid4().hex[:6]}"
    v1, v2 = notice_file(tmp_path, NOTICE_V1), notice_file(tmp_path, NOTICE_V2)

    def upload(path: Path, version: str) -> httpx.Response:
        with path.open("rb") as f:
            return console.post("/api/kb/upload", files={"file": (path.name, f, "text/plain")},
                                data={"doc_id": doc_id, "version": version,
                                      "effective": "2026-01-01", "title": NOTICE_TITLE})

    login(console, "staff1")
    assert upload(v1, "v1").status_code == 403
    assert console.post("/api/kb/publish", json={"doc_id": doc_id, "version": "v1"}
                        ).status_code == 403
    login(console, "admin1")
    bad = console.post("/api/kb/upload", files={"file": ("x.exe", b"MZ", "application/x")},
                       data={"doc_id": doc_id, "version": "v0", "effective": "2026-01-01"})
    assert bad.status_code == 400
    assert upload(v1, "v1").json()["clauses"] >= 2
    assert publish(console, doc_id, "v1")["state"] == "published"
    question = "企业信用修复的办理时限是几天"
    assert "15个工作日" in _answer_after_reload(assistant, question, "15个工作日")

    added = upload(v2, "v2").json()
    assert added["diff_counts"]["changed"] == 1
    diff = console.get(f"/api/kb/documents/{doc_id}/diff", params={"old": "v1", "new": "v2"})
    assert "1[-5-]{+0+}个工作日" in diff.json()["changes"][0]["text_diff"]
    job = publish(console, doc_id, "v2")
    assert job["state"] == "published" and job["progress"]
    assert "10个工作日" in _answer_after_reload(assistant, question, "10个工作日")
    rows = next(d for d in console.get("/api/kb/documents").json() if d["doc_id"] == doc_id)
    assert {v["version"]: v["status"] for v in rows["versions"]} == \
        {"v1": "superseded", "v2": "published"}


def publish(client: TestClient, doc_id: str, version: str) -> dict:
    job = client.post("/api/kb/publish", json={"doc_id": doc_id, "version": version}).json()
    deadline = time.time() + 120
    while job["state"] == "running" and time.time() < deadline:
        time.sleep(0.3)
        job = client.get(f"/api/kb/jobs/{job['id']}").json()
    return job


def _answer_after_reload(assistant: Assistant, question: str, expected: str) -> str:
    """The action server switches to a new generation within seconds, without a restart."""
    deadline, answer = time.time() + 30, ""
    while time.time() < deadline:
        answer = assistant.reply(f"kb-{uuid.uuid4().hex[:8]}", question)
        if expected in answer:
            break
        time.sleep(1)
    return answer
