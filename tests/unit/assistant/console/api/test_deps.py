"""The CSRF check the console runs before every state-changing request."""

from __future__ import annotations

import pytest
from starlette.requests import HTTPConnection

from assistant.console.api.deps import (
    BAD_CSRF_TOKEN,
    CSRF_HEADER,
    FOREIGN_ORIGIN,
    SESSION_COOKIE,
    csrf_refusal,
)
from assistant.console.users import csrf_token
from assistant.settings import RuntimeSettings

SESSION = "a-session-token"
SETTINGS = RuntimeSettings().model_copy(update={
    "console_allowed_origins": "https://console.example.gov.cn, https://other.example:8443"})


def request(path: str = "/api/chat", scheme: str = "http", host: str = "127.0.0.1:5080",
            cookie: str | None = SESSION, **headers: str) -> HTTPConnection:
    raw = [(b"host", host.encode())]
    if cookie is not None:
        raw.append((b"cookie", f"{SESSION_COOKIE}={cookie}".encode()))
    raw += [(k.replace("_", "-").lower().encode(), v.encode()) for k, v in headers.items()]
    return HTTPConnection({"type": "http", "method": "POST", "path": path, "scheme": scheme,
                           "headers": raw, "query_string": b""})


def with_token(**headers: str) -> dict[str, str]:
    return {CSRF_HEADER.replace("-", "_"): csrf_token(SESSION), **headers}


@pytest.mark.parametrize("headers", [
    {"origin": "http://127.0.0.1:5080"},
    {"origin": "HTTP://127.0.0.1:5080"},
    {"referer": "http://127.0.0.1:5080/static/app.js"},
    {"origin": "https://console.example.gov.cn"},
    {"origin": "https://console.example.gov.cn:443"},
    {"origin": "https://other.example:8443"},
    {},  # no Origin and no Referer: a program, not a page on another site
])
def test_allowed_origins_with_the_session_token_pass(headers: dict[str, str]) -> None:
    assert csrf_refusal(request(**with_token(**headers)), SETTINGS) is None


@pytest.mark.parametrize("headers", [
    {"origin": "https://evil.example"},
    {"origin": "null"},
    {"origin": "http://127.0.0.1:5081"},
    {"origin": "https://127.0.0.1:5080"},  # the right host but another scheme
    {"origin": "http://127.0.0.1:5080.evil.example"},
    {"referer": "https://evil.example/?http://127.0.0.1:5080/"},
    {"origin": "https://evil.example", "referer": "http://127.0.0.1:5080/"},
    {"origin": "https://other.example"},  # allowed only on its port
])
def test_foreign_origins_are_refused_token_or_not(headers: dict[str, str]) -> None:
    assert csrf_refusal(request(**with_token(**headers)), SETTINGS) == FOREIGN_ORIGIN
    assert csrf_refusal(request(path="/api/login", cookie=None, **headers),
                        SETTINGS) == FOREIGN_ORIGIN


def test_behind_a_tls_proxy_the_own_origin_is_https() -> None:
    proxied = request(scheme="https", host="console.example.org",
                      **with_token(origin="https://console.example.org"))
    assert csrf_refusal(proxied, SETTINGS) is None


@pytest.mark.parametrize("token", [None, "", "forged", csrf_token("another-session"),
                                   csrf_token(SESSION).upper(), "令牌".encode().decode("latin-1")])
def test_a_cookie_request_needs_its_own_session_token(token: str | None) -> None:
    headers = {"origin": "http://127.0.0.1:5080"}
    if token is not None:
        headers[CSRF_HEADER.replace("-", "_")] = token
    assert csrf_refusal(request(**headers), SETTINGS) == BAD_CSRF_TOKEN


def test_login_and_cookie_less_requests_need_no_token() -> None:
    assert csrf_refusal(request(path="/api/login", origin="http://127.0.0.1:5080"),
                        SETTINGS) is None
    assert csrf_refusal(request(cookie=None), SETTINGS) is None  # the route answers 401
