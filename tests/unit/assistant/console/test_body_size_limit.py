"""A body over the console's limit is refused with 413 before the route reads it."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from assistant.console.app import BodySizeLimit


def _client(max_bytes: int) -> tuple[TestClient, list[int]]:
    read: list[int] = []
    app = FastAPI()

    @app.post("/upload")
    async def upload(request: Request) -> dict:
        body = await request.body()
        read.append(len(body))
        return {"bytes": len(body)}

    app.add_middleware(BodySizeLimit, max_bytes=max_bytes)
    return TestClient(app), read


def test_a_body_within_the_limit_reaches_the_route() -> None:
    client, read = _client(1000)
    assert client.post("/upload", content=b"x" * 1000).json() == {"bytes": 1000}
    assert read == [1000]


def test_a_declared_length_over_the_limit_is_refused_unread() -> None:
    client, read = _client(1000)
    resp = client.post("/upload", content=b"x" * 1001)
    assert resp.status_code == 413 and "MB" in resp.json()["detail"] and read == []


def test_a_streamed_body_over_the_limit_is_refused() -> None:
    client, read = _client(1000)

    def chunks():
        for _ in range(5):
            yield b"x" * 400

    resp = client.post("/upload", content=chunks())  # chunked: no Content-Length
    assert resp.status_code == 413 and read == []


def test_safe_methods_pass() -> None:
    client, _ = _client(10)
    assert client.get("/upload").status_code == 405  # reached the router, not refused
