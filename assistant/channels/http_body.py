"""Reading a request body with a bound, for the channels' streamed routes.

Sanic reads a whole body (up to 100 MB) before a normal route runs; a route declared with
`stream=True` reads it here instead, and a body over the limit is refused before it is in
memory: at once when its Content-Length says so, else as soon as the bytes read pass it.
"""

from __future__ import annotations

from sanic.request import Request


class BodyTooLarge(Exception):
    """The body is over `limit` bytes; `reason` says how that was seen (for the log)."""

    def __init__(self, limit: int, reason: str) -> None:
        super().__init__(reason)
        self.limit = limit
        self.reason = reason


async def read_bounded(request: Request, limit: int) -> bytes:
    """The body of a streamed request, at most `limit` bytes; BodyTooLarge otherwise."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit, f"declared body of {declared} bytes over the limit")
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.stream.read()
        if chunk is None:
            break
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit, f"body over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
