"""WeChat's side of the bridge, for the end-to-end tests; the only thing faked.

- `FakeWeChatApi`: a local stand-in for api.weixin.qq.com on 127.0.0.1 serving the two calls
  the channel makes (`GET /cgi-bin/token`, `POST /cgi-bin/message/custom/send`) with WeChat's
  JSON shapes and error codes, recording every message it is asked to deliver.
- `WeChatPusher`: what WeChat's servers send to our webhook: signed GETs and POSTs, plaintext
  or encrypted with the EncodingAESKey through wechatpy, and reading (decrypting) the replies.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import httpx
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

MAX_TEXT_BYTES = 2048  # WeChat refuses longer customer-service text (errcode 45002)


@dataclass
class SentMessage:
    touser: str
    content: str
    access_token: str


@dataclass
class FakeWeChatApi:
    app_id: str
    app_secret: str
    expires_in: int = 7200
    sent: list[SentMessage] = field(default_factory=list)
    token_requests: int = 0
    _valid_tokens: set[str] = field(default_factory=set)
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeWeChatApi:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: object) -> None:  # keep pytest output clean
                pass

            def _json(self, payload: dict) -> None:
                body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                url = urlparse(self.path)
                q = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path != "/cgi-bin/token":
                    self._json({"errcode": 404, "errmsg": "not found"})
                    return
                self._json(api._issue_token(q))

            def do_POST(self) -> None:
                url = urlparse(self.path)
                q = {k: v[0] for k, v in parse_qs(url.query).items()}
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if url.path != "/cgi-bin/message/custom/send":
                    self._json({"errcode": 404, "errmsg": "not found"})
                    return
                self._json(api._send(q.get("access_token", ""), raw))

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # -- WeChat's behaviour -----------------------------------------------------------------
    def _issue_token(self, q: dict[str, str]) -> dict:
        with self._cond:
            self.token_requests += 1
            if q.get("grant_type") != "client_credential":
                return {"errcode": 40002, "errmsg": "invalid grant_type"}
            if q.get("appid") != self.app_id:
                return {"errcode": 40013, "errmsg": "invalid appid"}
            if q.get("secret") != self.app_secret:
                return {"errcode": 40125, "errmsg": "invalid appsecret"}
            token = f"TOKEN-{secrets.token_hex(8)}"
            self._valid_tokens.add(token)
            return {"access_token": token, "expires_in": self.expires_in}

    def _send(self, token: str, raw: bytes) -> dict:
        with self._cond:
            if token not in self._valid_tokens:
                return {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid"}
            try:
                body = json.loads(raw.decode("utf-8"))
            except ValueError:
                return {"errcode": 47001, "errmsg": "data format error"}
            content = (body.get("text") or {}).get("content", "")
            if body.get("msgtype") != "text" or not body.get("touser") or not content:
                return {"errcode": 40008, "errmsg": "invalid message type"}
            if len(content.encode("utf-8")) > MAX_TEXT_BYTES:
                return {"errcode": 45002, "errmsg": "content size out of limit"}
            self.sent.append(SentMessage(body["touser"], content, token))
            self._cond.notify_all()
            return {"errcode": 0, "errmsg": "ok"}

    def revoke_tokens(self) -> None:
        """As when the token expires early or another client fetched a new one."""
        with self._cond:
            self._valid_tokens.clear()

    def messages_to(self, touser: str) -> list[str]:
        with self._cond:
            return [m.content for m in self.sent if m.touser == touser]

    def wait_for(self, touser: str, count: int = 1, timeout: float = 60) -> list[str]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                got = [m.content for m in self.sent if m.touser == touser]
                left = deadline - time.monotonic()
                if len(got) >= count or left <= 0:
                    return got
                self._cond.wait(left)


@dataclass
class Reply:
    status: int
    body: str
    content: str | None  # the passive reply's text; None for "success" or an empty body
    fields: dict[str, str]


class WeChatPusher:
    """Sends to the webhook what WeChat's servers would send, signed with the shared token."""

    def __init__(self, webhook: str, token: str, app_id: str, aes_key: str,
                 client: httpx.Client, account: str = "gh_e2etest0001") -> None:
        self.webhook = webhook
        self.token = token
        self.app_id = app_id
        self.crypto = WeChatCrypto(token, aes_key, app_id)
        self.client = client
        self.account = account
        self._msg_id = int(time.time() * 1000)

    def sign(self, *parts: str) -> str:
        signer = WeChatSigner()
        signer.add_data(self.token, *parts)
        return signer.signature

    def next_msg_id(self) -> str:
        self._msg_id += 1
        return str(self._msg_id)

    def message_xml(self, openid: str, msg_type: str, body: str = "",
                    create_time: int | None = None, msg_id: str | None = None) -> str:
        created = create_time or int(time.time())
        msg_id_xml = f"<MsgId>{msg_id}</MsgId>" if msg_id else ""
        return (f"<xml><ToUserName><![CDATA[{self.account}]]></ToUserName>"
                f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
                f"<CreateTime>{created}</CreateTime><MsgType><![CDATA[{msg_type}]]></MsgType>"
                f"{body}{msg_id_xml}</xml>")

    def text_xml(self, openid: str, content: str, msg_id: str | None = None) -> str:
        return self.message_xml(openid, "text", f"<Content><![CDATA[{content}]]></Content>",
                                msg_id=msg_id or self.next_msg_id())

    def event_xml(self, openid: str, event: str, create_time: int | None = None) -> str:
        return self.message_xml(openid, "event", f"<Event><![CDATA[{event}]]></Event>",
                                create_time=create_time)

    def verify_url(self, echostr: str, signature: str | None = None,
                   timestamp: int | None = None) -> httpx.Response:
        ts, nonce = str(timestamp or int(time.time())), str(secrets.randbelow(10**9))
        params = {"signature": signature or self.sign(ts, nonce), "timestamp": ts,
                  "nonce": nonce, "echostr": echostr}
        return self.client.get(self.webhook, params=params)

    def post(self, xml: str | bytes, encrypted: bool = False, timestamp: int | None = None,
             signature: str | None = None, msg_signature: str | None = None,
             openid: str = "", raw_body: bytes | None = None) -> Reply:
        ts, nonce = str(timestamp or int(time.time())), str(secrets.randbelow(10**9))
        params = {"signature": signature or self.sign(ts, nonce), "timestamp": ts,
                  "nonce": nonce, "openid": openid}
        body = xml.encode("utf-8") if isinstance(xml, str) else xml
        if encrypted:
            outer = self.crypto.encrypt_message(body.decode("utf-8"), nonce, ts)
            fields = {c.tag: c.text or "" for c in ET.fromstring(outer)}
            body = (f"<xml><ToUserName><![CDATA[{self.account}]]></ToUserName>"
                    f"<Encrypt><![CDATA[{fields['Encrypt']}]]></Encrypt></xml>").encode()
            params.update(encrypt_type="aes",
                          msg_signature=msg_signature or fields["MsgSignature"])
        resp = self.client.post(self.webhook, params=params, content=raw_body or body,
                                headers={"Content-Type": "text/xml"})
        return self.read(resp, encrypted)

    def read(self, resp: httpx.Response, encrypted: bool) -> Reply:
        text = resp.text
        if resp.status_code != 200 or not text.strip().startswith("<xml"):
            return Reply(resp.status_code, text, None, {})
        if encrypted:
            outer = {c.tag: c.text or "" for c in ET.fromstring(text)}
            assert set(outer) >= {"Encrypt", "MsgSignature", "TimeStamp", "Nonce"}, outer
            text = self.crypto.decrypt_message(
                {"Encrypt": outer["Encrypt"]}, outer["MsgSignature"], outer["TimeStamp"],
                outer["Nonce"])
        fields = {c.tag: c.text or "" for c in ET.fromstring(text)}
        return Reply(resp.status_code, resp.text, fields.get("Content"), fields)
