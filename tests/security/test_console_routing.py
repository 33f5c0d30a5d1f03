"""Staff act on the conversation they see, and see every conversation waiting for them
(issue 26, findings 1 and 3), against the real servers.

1. The console reaches a conversation through Rasa's HTTP API, with the sender id in the URL
   path. The HTTP client percent-encodes what a path may not hold and Rasa does not decode it
   back, so a victim writing as `张三` and an attacker writing as `%E5%BC%A0%E4%B8%89` shared
   the console's view of one conversation: the staff reply to the victim went into the
   attacker's outbox, and a takeover paused the attacker while the bot went on answering the
   victim. Sender ids are now refused by the REST channel unless they reach Rasa unchanged
   (`conversation.senders`), conversations stored before that rule cannot be taken over or
   answered from the console (409, in Chinese) instead of reaching another conversation, and
   ids with invisible or bidirectional characters are refused at the channel and shown
   escaped in the console.
3. The review queue came from the 200 most recently active conversations: 200 anonymous
   messages pushed a real handoff out of it. The queue now asks the tracker store for review
   items directly, and the conversation list is paginated.

Rasa, the action server and the SQLite tracker store are real; the console app runs
in-process (FastAPI's TestClient) and reaches Rasa over HTTP as in production. Conversations
"stored before the rule" and the 1,000 anonymous ones are written straight into the tracker
store, copied from conversations made through the real servers.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from assistant.channels.staff_replies import HUMAN_HAS_TAKEN_OVER
from assistant.console.api.deps import CSRF_HEADER
from assistant.console.app import create_app
from assistant.console.delivery import RasaGateway
from assistant.console.users import ConsoleDatabase
from knowledge.knowledge_base import KnowledgeBase
from knowledge.settings import KnowledgeSettings
from tests.live_servers import Assistant

pytestmark = pytest.mark.e2e
PASSWORD = "routing-test-password"
OUTBOX_TOKEN = "X-Outbox-Token"
STAFF_TEXT = "您好，我是客服小王，您的问题已记下。"
HANDOFF = "我要找人工客服"
ANONYMOUS = 1000


def uid() -> str:
    return uuid.uuid4().hex[:8]


def has_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def as_the_http_client_sends_it(sender: str) -> str:
    """The path segment httpx makes of `sender` (what Rasa then stores it under)."""
    return httpx.URL(f"http://rasa/{sender}").raw_path.decode("ascii")[1:]


@pytest.fixture(scope="module")
def console(assistant: Assistant, kb_home: Path,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    db = ConsoleDatabase(tmp_path_factory.mktemp("console-routing") / "console.db")
    db.add_user("staff1", PASSWORD, "staff")
    app = create_app(assistant.settings, KnowledgeBase(KnowledgeSettings(home=kb_home)), db,
                     RasaGateway(assistant.settings))
    with TestClient(app) as client:
        resp = client.post("/api/login", json={"username": "staff1", "password": PASSWORD})
        assert resp.status_code == 200, resp.text
        client.headers[CSRF_HEADER] = resp.headers[CSRF_HEADER]
        yield client


class Tracker:
    """The real SQLite tracker store the Rasa server writes."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def events(self, sender: str) -> list[tuple[str, str]]:
        with sqlite3.connect(self.path) as db:
            return db.execute("SELECT type_name, data FROM events WHERE sender_id = ?"
                              " ORDER BY id", (sender,)).fetchall()

    def copy(self, source: str, targets: list[str]) -> None:
        """Stores the conversation of `source` again under each of `targets` (newest last)."""
        with sqlite3.connect(self.path, timeout=30) as db:
            rows = db.execute("SELECT type_name, timestamp, intent_name, action_name, data"
                              " FROM events WHERE sender_id = ? ORDER BY id", (source,)).fetchall()
            assert rows, f"nothing stored under {source!r}"
            db.executemany(
                "INSERT INTO events (sender_id, type_name, timestamp, intent_name, action_name,"
                " data) VALUES (?, ?, ?, ?, ?, ?)",
                [(target, *row) for target in targets for row in rows])


@pytest.fixture(scope="module")
def tracker(assistant: Assistant) -> Tracker:
    return Tracker(assistant.settings.tracker_db)


def rest(assistant: Assistant, sender: str, message: str) -> httpx.Response:
    return assistant.client.post(f"{assistant.settings.rasa_url}/webhooks/rest/webhook",
                                 json={"sender": sender, "message": message})


def outbox(assistant: Assistant, sender: str, token: str) -> list[dict[str, Any]]:
    resp = assistant.client.get(f"{assistant.settings.rasa_url}/webhooks/rest/outbox",
                                params={"sender": sender}, headers={OUTBOX_TOKEN: token})
    resp.raise_for_status()
    return resp.json()


# -- 1. misrouting -----------------------------------------------------------------------------

def probe_ids() -> list[str]:
    """Ids the HTTP client rewrites in a URL path: non-ASCII, a space, `"<>{}`, a backtick."""
    n = uid()
    return [f"张三{n}", f"probe {n}", f'probe"<>{{}}{n}', f"probe`{n}"]


def test_the_channel_refuses_sender_ids_that_would_not_reach_rasa_unchanged(
        assistant: Assistant, tracker: Tracker) -> None:
    for victim in probe_ids():
        attacker = as_the_http_client_sends_it(victim)
        assert attacker != victim
        for sender in (victim, attacker):
            resp = rest(assistant, sender, HANDOFF)
            assert resp.status_code == 400, (sender, resp.text)
            assert resp.json()["error"] == "sender_invalid"
            assert has_chinese(resp.json()["message"])
            assert tracker.events(sender) == []


def test_invisible_and_bidirectional_characters_are_refused_at_the_channel(
        assistant: Assistant, tracker: Tracker) -> None:
    n = uid()
    for sender in (f"alice{n}\u200b", f"alice\u202e{n}", f"\ufeffalice{n}", f"alice\u00a0{n}"):
        resp = rest(assistant, sender, "你好")
        assert resp.status_code == 400, (ascii(sender), resp.text)
        assert has_chinese(resp.json()["message"])
        assert tracker.events(sender) == []


def test_staff_act_only_on_the_conversation_they_name(
        console: TestClient, assistant: Assistant, tracker: Tracker) -> None:
    # Conversations stored before the rule (copied from real ones): a victim whose id the HTTP
    # client rewrites, and an attacker who wrote as the rewritten form and kept his token.
    source = f"routing-source-{uid()}"
    assert rest(assistant, source, HANDOFF).status_code == 200
    victim = f"张三{uid()}"
    attacker = as_the_http_client_sends_it(victim)
    tracker.copy(source, [victim, attacker])
    before = {who: tracker.events(who) for who in (victim, attacker)}

    for action, body in (("takeover", None), ("reply", {"text": STAFF_TEXT}),
                         ("release", None)):
        resp = console.post(f"/api/conversations/{victim}/{action}", json=body)
        assert resp.status_code == 409, (action, resp.text)
        assert has_chinese(resp.json()["detail"])
    # Nothing reached either conversation: no pause, no staff reply in anyone's outbox.
    assert {who: tracker.events(who) for who in (victim, attacker)} == before

    # A sender id with every character the rule allows goes all the way, to itself only.
    user = f"web.1_a:b@c+d~{uid()}"
    first = rest(assistant, user, HANDOFF)
    assert first.status_code == 200, first.text
    token = first.headers[OUTBOX_TOKEN]
    assert console.post(f"/api/conversations/{user}/takeover").json() == {"paused": True}
    assert [m.get("text") for m in rest(assistant, user, "电价有优惠吗").json()] == \
        [HUMAN_HAS_TAKEN_OVER]
    sent = console.post(f"/api/conversations/{user}/reply", json={"text": STAFF_TEXT})
    assert sent.json() == {"delivered_via": "rest"}
    assert [m["text"] for m in outbox(assistant, user, token)] == [STAFF_TEXT]
    assert console.get(f"/api/conversations/{user}").json()["paused"] is True
    console.post(f"/api/conversations/{user}/release")


def test_look_alike_sender_ids_are_told_apart_in_the_console(
        console: TestClient, assistant: Assistant, tracker: Tracker) -> None:
    source = f"routing-look-{uid()}"
    assert rest(assistant, source, "你好").status_code == 200
    plain = f"bob{uid()}"
    hidden, reversed_ = f"{plain}\u200b", f"\u202e{plain}"
    tracker.copy(source, [plain, hidden, reversed_])

    listed = {c["sender_id"]: c for c in console.get("/api/conversations").json()}
    labels = [listed[s]["sender_label"] for s in (plain, hidden, reversed_)]
    assert labels == [plain, f"{plain}\\u200b", f"\\u202e{plain}"]
    for sender, label in zip((plain, hidden, reversed_), labels, strict=True):
        detail = console.get(f"/api/conversations/{sender}").json()
        assert detail["sender_label"] == label
        assert detail["actionable"] is (sender == plain)


# -- 3. the queue under traffic ---------------------------------------------------------------

def test_a_handoff_waits_in_the_queue_however_much_traffic_follows(
        console: TestClient, assistant: Assistant, tracker: Tracker) -> None:
    waiting = f"needs-a-person-{uid()}"
    assert rest(assistant, waiting, HANDOFF).status_code == 200
    assert [i["kind"] for i in console.get("/api/queue").json()
            if i["sender_id"] == waiting] == ["handoff"]

    anonymous = f"anonymous-{uid()}"
    assert rest(assistant, anonymous, "审批有没有绿色通道？").status_code == 200
    tracker.copy(anonymous, [f"{anonymous}-{n}" for n in range(ANONYMOUS)])

    queue = console.get("/api/queue").json()
    assert [i["kind"] for i in queue if i["sender_id"] == waiting] == ["handoff"]
    assert not [i for i in queue if i["sender_id"].startswith(anonymous)]

    # The list is paginated, newest first: every conversation is on some page.
    seen: list[str] = []
    for page in range(20):
        rows = console.get("/api/conversations",
                           params={"offset": page * 200, "limit": 200}).json()
        assert len(rows) <= 200
        if not rows:
            break
        seen += [r["sender_id"] for r in rows]
    assert len(seen) == len(set(seen)) and len(seen) >= ANONYMOUS + 2
    assert waiting in seen
    first = console.get("/api/conversations", params={"limit": 1}).json()
    assert [r["sender_id"] for r in first] == [f"{anonymous}-{ANONYMOUS - 1}"]
