"""Reads an untrusted document in a worker process with time and memory limits.

A crafted file can make a parser take gigabytes (a zip bomb that passes as .docx, a PDF with
huge streams) or minutes. `read_document_isolated` runs `readers.read_document` in a fresh
interpreter (`python -m knowledge.ingestion.sandbox PATH`), never in the caller's process:

* the worker limits itself with `resource.setrlimit` before it imports a parser: address space
  (`RLIMIT_AS`, `MEMORY_BYTES`), CPU seconds, the size of what it may write (its answer) and
  no core file;
* the caller waits at most `TIMEOUT_SECONDS` and then kills it; it blocks only the calling
  thread (the console calls it from a worker thread, off the event loop);
* the worker gets no secrets: its environment is PATH, PYTHONPATH and the locale only;
* it answers in JSON (never pickle: the caller does not trust it), read only if no larger
  than the text limit allows;
* at most `MAX_PARALLEL` documents are read at a time.

Every failure is a `readers.UnsupportedFormat`: `kind` says which (unsupported, unreadable,
too_large, timeout, busy), `reason` is a short Chinese sentence for staff that names no path,
and `str()` is the cause for the log.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from knowledge.ingestion.readers import (
    MAX_TEXT_CHARS,
    SUPPORTED_SUFFIXES,
    DocumentTooLarge,
    UnreadableDocument,
    UnsupportedFormat,
    read_document,
)
from knowledge.paths import PROJECT_ROOT

TIMEOUT_SECONDS = 60.0  # a 200-page PDF takes a few seconds
MEMORY_BYTES = 1024 * 1024 * 1024  # address space of the worker, interpreter and parsers included
MAX_PARALLEL = 2
MAX_ANSWER_BYTES = 4 * MAX_TEXT_CHARS + 65536  # JSON of the longest text allowed (UTF-8)

_slots = threading.BoundedSemaphore(MAX_PARALLEL)


class ParseTimeout(UnreadableDocument):
    kind = "timeout"


class ParserBusy(UnsupportedFormat):
    kind = "busy"


_KINDS = {cls.kind: cls for cls in (UnsupportedFormat, DocumentTooLarge, UnreadableDocument,
                                    ParseTimeout, ParserBusy)}
_DIED = "文件过大或结构异常，解析被中止"


def read_document_isolated(path: Path, *, timeout: float = TIMEOUT_SECONDS,
                           memory_bytes: int = MEMORY_BYTES) -> str:
    """`read_document(path)` in a limited worker process."""
    path = Path(path).resolve()
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        read_document(path)  # raises UnsupportedFormat without starting a worker
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if not _slots.acquire(timeout=timeout):
        raise ParserBusy(f"{path}: {MAX_PARALLEL} documents are being read already",
                         "正在解析其他文件，请稍后再试")
    try:
        return _read(path, timeout, memory_bytes)
    finally:
        _slots.release()


def _worker_env() -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8",
            "PYTHONPATH": str(PROJECT_ROOT), "PYTHONDONTWRITEBYTECODE": "1"}


def _read(path: Path, timeout: float, memory_bytes: int) -> str:
    cmd = [sys.executable, "-m", "knowledge.ingestion.sandbox", str(path),
           str(memory_bytes), str(int(timeout) + 1)]
    started = time.monotonic()
    with tempfile.TemporaryFile() as answer:
        worker = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=answer,
                                  stderr=subprocess.DEVNULL, env=_worker_env(), cwd="/")
        try:
            code = worker.wait(timeout)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
            raise ParseTimeout(f"{path}: not read within {timeout:g}s; reader killed",
                               f"文件解析超过 {timeout:g} 秒，已中止") from None
        finally:
            if worker.poll() is None:  # interrupted while waiting: never leave it running
                worker.kill()
                worker.wait()
        seconds = time.monotonic() - started
        size = os.fstat(answer.fileno()).st_size
        if code != 0 or size == 0 or size > MAX_ANSWER_BYTES:
            raise UnreadableDocument(f"{path}: the reader process ended with code {code} after"
                                     f" {seconds:.1f}s ({size} bytes of answer)", _DIED)
        answer.seek(0)
        try:
            result = json.loads(answer.read().decode("utf-8"))
            ok, text = result["ok"], result.get("text")
        except (ValueError, KeyError, TypeError) as exc:
            raise UnreadableDocument(f"{path}: unreadable answer from the reader ({exc})",
                                     _DIED) from None
    if ok and isinstance(text, str) and len(text) <= MAX_TEXT_CHARS:
        return text
    if ok:
        raise DocumentTooLarge(f"{path}: the reader returned too much text", "文件文字过多")
    cls = _KINDS.get(result.get("kind"), UnreadableDocument)
    raise cls(str(result.get("cause", "")), str(result.get("reason") or _DIED))


# -- the worker ---------------------------------------------------------------------------------
def _limit(memory_bytes: int, cpu_seconds: int) -> None:
    def cap(which: int, value: int) -> None:
        _, hard = resource.getrlimit(which)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(which, (value, value if which != resource.RLIMIT_CPU else hard))

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    cap(resource.RLIMIT_CPU, cpu_seconds)
    cap(resource.RLIMIT_FSIZE, MAX_ANSWER_BYTES)
    cap(resource.RLIMIT_AS, memory_bytes)


def _work(path: str, memory_bytes: int, cpu_seconds: int) -> dict:
    try:
        _limit(memory_bytes, cpu_seconds)
        return {"ok": True, "text": read_document(Path(path))}
    except UnsupportedFormat as exc:
        return {"ok": False, "kind": exc.kind, "cause": str(exc), "reason": exc.reason}
    except MemoryError:
        return {"ok": False, "kind": DocumentTooLarge.kind,
                "cause": f"{path}: over the reader's memory limit of {memory_bytes} bytes",
                "reason": "文件过大或结构异常，解析时超出内存限制"}
    except Exception as exc:
        return {"ok": False, "kind": UnreadableDocument.kind,
                "cause": f"{path}: {type(exc).__name__}: {exc}",
                "reason": "无法读取这个文件，可能已损坏或格式不对"}


def main(argv: list[str]) -> int:
    path, memory_bytes, cpu_seconds = argv[0], int(argv[1]), int(argv[2])
    result = _work(path, memory_bytes, cpu_seconds)
    try:
        data = json.dumps(result, ensure_ascii=False).encode("utf-8")
    except MemoryError:
        data = json.dumps({"ok": False, "kind": DocumentTooLarge.kind,
                           "cause": f"{path}: text too large to return",
                           "reason": "文件过大，解析时超出内存限制"}).encode()
    sys.stdout.buffer.write(data)
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
