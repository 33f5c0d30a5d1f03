"""Staff-console uploads: where an uploaded file may be written, and what a hostile file costs.

The console runs as `make run` starts it (`python -m assistant.console`, its own process, real
HTTP) against an empty knowledge base in a temporary home; the hostile files are made here:

* `doc_id` / version / file names that leave the knowledge base (`../x`, `/etc/x`, `a/b`, ...):
  refused with 400 before anything is written; the filesystem is searched afterwards;
* a zip bomb passing as .docx (hundreds of MB of repeated bytes in `word/document.xml`,
  deflated to well under 1 MB), a .docx that is not a zip, a truncated PDF, a PDF without a
  text layer: refused with a 4xx and a Chinese message, without a traceback or a server path,
  within seconds, while the console keeps answering and its memory stays where it was;
* the worker process that reads uploads (`knowledge.ingestion.sandbox`) stops at its memory
  limit and is killed at its time limit.
"""

from __future__ import annotations

import io
import re
import threading
import time
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docx
import httpx
import pytest

from assistant.console.users import ConsoleDatabase
from assistant.servers import ServerProcess, console_server
from assistant.settings import RuntimeSettings
from knowledge.paths import PROJECT_ROOT
from tests.live_servers import free_port
from tests.unit.knowledge.ingestion.test_readers import make_pdf

pytestmark = pytest.mark.e2e
PASSWORD = "upload-test-pw"
CSRF_HEADER = "X-CSRF-Token"  # sent back after login when the console hands one out
TITLE = "关于企业环保信用修复办理时限的通知"
NOTICE = """关于企业环保信用修复办理时限的通知
一、办理时限
（一）企业环保信用修复申请的办理时限为15个工作日，受理部门应当在时限内办结并书面告知企业结果。
（二）材料不全的，受理部门应当一次性告知企业需要补正的全部材料。
二、工作要求
（一）各级生态环境部门应当公开信用修复的办理流程和咨询电话。
"""
W_NS = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
BOMB_MB = 300
CHINESE = re.compile(r"[\u4e00-\u9fff]")


@dataclass
class Console:
    client: httpx.Client
    server: ServerProcess
    base: Path  # everything this module's console may write is under here (and nothing else)
    kb_home: Path

    @property
    def uploads(self) -> Path:
        return self.kb_home / "uploads"

    def peak_rss_kb(self) -> int:
        """The console process's peak resident memory (VmHWM), in kB."""
        assert self.server.process is not None
        status = Path(f"/proc/{self.server.process.pid}/status").read_text()
        return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1))

    def log(self) -> str:
        return self.server.log_path.read_text(errors="replace")

    def upload(self, content: bytes, filename: str, doc_id: str, version: str,
               title: str = TITLE, timeout: float = 120) -> httpx.Response:
        return self.client.post(
            "/api/kb/upload", files={"file": (filename, content, "application/octet-stream")},
            data={"doc_id": doc_id, "version": version, "effective": "2026-01-01",
                  "title": title}, timeout=timeout)


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    base = tmp_path_factory.mktemp("uploads")
    kb_home, tmp = base / "kb", base / "tmp"
    kb_home.mkdir()
    tmp.mkdir()
    settings = RuntimeSettings().model_copy(update={
        "var_dir": base / "var", "console_port": free_port(), "rasa_port": free_port(),
        "action_port": free_port()})
    ConsoleDatabase(settings.console_db).add_user("admin1", PASSWORD, "admin")
    # TMPDIR: the console's temporary files stay in `base` too, so that the search below
    # sees every file it writes.
    server = console_server(settings, env={"KB_HOME": str(kb_home), "KB_DENSE_MODEL": "none",
                                           "TMPDIR": str(tmp)})
    server.start()
    try:
        server.wait_healthy(90)
        with httpx.Client(base_url=settings.console_url, timeout=60) as client:
            resp = client.post("/api/login", json={"username": "admin1", "password": PASSWORD})
            assert resp.status_code == 200, resp.text
            if CSRF_HEADER in resp.headers:
                client.headers[CSRF_HEADER] = resp.headers[CSRF_HEADER]
            yield Console(client, server, base, kb_home)
    finally:
        server.stop()


def assert_clean_refusal(resp: httpx.Response, console: Console, statuses: tuple[int, ...]
                         ) -> str:
    """4xx with a short Chinese message; no traceback, no server path."""
    assert resp.status_code in statuses, (resp.status_code, resp.text[:500])
    body = resp.text
    detail = resp.json()["detail"]
    assert isinstance(detail, str) and CHINESE.search(detail), body[:500]
    assert len(detail) < 120, detail
    for leak in ("Traceback", 'File "', ".py", str(console.base), str(PROJECT_ROOT), "/tmp",
                 "/etc/", "/root", "/var/", "/home/"):
        assert leak not in body, (leak, body[:500])
    return detail


def files_named(marker: str, root: Path) -> list[Path]:
    """Files whose name has `marker`: anywhere under `root`, and directly in /tmp and /etc
    (where `../x` and `/etc/x` used to land)."""
    return [*root.rglob(f"*{marker}*"), *Path("/tmp").glob(f"*{marker}*"),
            *Path("/etc").glob(f"*{marker}*")]


def notice_docx() -> bytes:
    document = docx.Document()
    for line in NOTICE.splitlines():
        document.add_paragraph(line)
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def zip_bomb_docx(path: Path, megabytes: int) -> Path:
    """A .docx whose word/document.xml is one text run of `megabytes` MB of repeated bytes."""
    with zipfile.ZipFile(io.BytesIO(notice_docx())) as real:
        parts = {n: real.read(n) for n in real.namelist() if n != "word/document.xml"}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)
        with z.open("word/document.xml", "w", force_zip64=True) as f:
            f.write(f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:document'
                    f' {W_NS}><w:body><w:p><w:r><w:t>'.encode())
            block = b"A" * 2**20
            for _ in range(megabytes):
                f.write(block)
            f.write(b"</w:t></w:r></w:p></w:body></w:document>")
    return path


def many_paragraphs_docx(path: Path, megabytes: int) -> Path:
    """A well-formed .docx under the unpacked-size limit whose XML tree needs far more memory
    than its size: millions of one-character paragraphs."""
    para = "<w:p><w:r><w:t>政</w:t></w:r></w:p>".encode()
    with zipfile.ZipFile(io.BytesIO(notice_docx())) as real:
        parts = {n: real.read(n) for n in real.namelist() if n != "word/document.xml"}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)
        with z.open("word/document.xml", "w", force_zip64=True) as f:
            f.write(f"<w:document {W_NS}><w:body>".encode())
            block = para * (2**20 // len(para))
            for _ in range(megabytes):
                f.write(block)
            f.write(b"</w:body></w:document>")
    return path


# -- finding 1: nothing is written outside the knowledge base ---------------------------------
BAD_DOC_IDS = ["../x", "../../x", "/etc/x", "a/b", "..", ".", "x" * 300, "a\x00b", "a\\b",
               "-rf", "", " x", "文件"]
BAD_VERSIONS = ["../v", "/tmp/v", "a/b", "..", "v" * 300, "v\x00", ""]


@pytest.mark.parametrize("doc_id", BAD_DOC_IDS, ids=repr)
def test_a_doc_id_that_could_leave_the_knowledge_base_is_refused_before_any_write(
        console: Console, doc_id: str) -> None:
    marker = f"m{uuid.uuid4().hex[:10]}"  # the version: part of any file name the upload makes
    escaped = Path(f"/etc/x-{marker}.txt")
    try:
        resp = console.upload(NOTICE.encode(), "notice.txt", doc_id, marker)
        assert_clean_refusal(resp, console, (400,))
        assert not escaped.exists()
        assert files_named(marker, console.base) == []
    finally:
        escaped.unlink(missing_ok=True)  # what the unfixed console writes as root


@pytest.mark.parametrize("version", BAD_VERSIONS, ids=repr)
def test_a_version_that_could_leave_the_knowledge_base_is_refused(
        console: Console, version: str) -> None:
    doc_id = f"doc-{uuid.uuid4().hex[:10]}"
    resp = console.upload(NOTICE.encode(), "notice.txt", doc_id, version)
    assert_clean_refusal(resp, console, (400,))
    assert files_named(doc_id, console.base) == []


@pytest.mark.parametrize("filename", ["../../evil.txt", "/etc/evil.txt", "sub/evil.txt",
                                      "..\\..\\evil.txt", "../", ".txt", "evil.exe"])
def test_a_file_name_with_a_path_or_an_unknown_suffix_is_refused(
        console: Console, filename: str) -> None:
    doc_id = f"doc-{uuid.uuid4().hex[:10]}"
    resp = console.upload(NOTICE.encode(), filename, doc_id, "v1")
    assert_clean_refusal(resp, console, (400,))
    assert files_named("evil", console.base) == []
    assert doc_id not in {d["doc_id"] for d in console.client.get("/api/kb/documents").json()}


def test_a_good_upload_is_kept_inside_the_knowledge_base_only(console: Console) -> None:
    doc_id = f"notice-{uuid.uuid4().hex[:8]}"
    txt = console.upload(NOTICE.encode(), "信用修复通知.txt", doc_id, "v1")
    assert txt.status_code == 200, txt.text
    assert txt.json()["clauses"] >= 3
    word = console.upload(notice_docx(), "通知（修订）.docx", doc_id, "v2")
    assert word.status_code == 200, word.text
    assert word.json()["clauses"] >= 3 and word.json()["diff_counts"] is None  # both drafts
    assert (console.uploads / doc_id / "v1.txt").read_bytes() == NOTICE.encode()
    assert (console.uploads / doc_id / "v2.docx").is_file()
    assert word.json()["source_file"] == f"uploads/{doc_id}/v2.docx"
    assert list((console.uploads / ".incoming").iterdir()) == []
    outside = [p for p in files_named(doc_id, console.base) if console.uploads not in p.parents]
    assert outside == []


# -- finding 7: hostile files cost the console neither memory nor time ------------------------
def test_a_zip_bomb_docx_is_refused_quickly_and_the_console_stays_responsive(
        console: Console, tmp_path: Path) -> None:
    bomb = zip_bomb_docx(tmp_path / "bomb.docx", BOMB_MB).read_bytes()
    assert len(bomb) < 1024 * 1024  # hundreds of MB, deflated to well under 1 MB
    before_kb = console.peak_rss_kb()
    result: dict[str, object] = {}

    def send() -> None:
        started = time.monotonic()
        result["resp"] = console.upload(bomb, "bomb.docx", f"bomb-{uuid.uuid4().hex[:8]}", "v1")
        result["seconds"] = time.monotonic() - started

    sender = threading.Thread(target=send)
    sender.start()
    slowest = 0.0
    with httpx.Client(base_url=str(console.client.base_url), timeout=30) as other:
        while sender.is_alive():  # another user's requests are answered meanwhile
            started = time.monotonic()
            assert other.get("/api/health").status_code == 200
            slowest = max(slowest, time.monotonic() - started)
            time.sleep(0.1)
    sender.join()
    detail = assert_clean_refusal(result["resp"], console, (413,))  # type: ignore[arg-type]
    assert "MB" in detail
    assert result["seconds"] < 10, result
    assert slowest < 1.0, f"/api/health took {slowest:.1f}s during the upload"
    grown_mb = (console.peak_rss_kb() - before_kb) / 1024
    assert grown_mb < 100, f"the console's peak memory grew by {grown_mb:.0f} MB"
    assert "unpacked" in console.log()  # the cause, for whoever runs the console


@pytest.mark.parametrize("kind", ["docx-not-a-zip", "docx-truncated", "pdf-truncated",
                                  "pdf-without-text", "pdf-not-a-pdf", "txt-binary"])
def test_a_corrupt_or_unreadable_file_gets_a_clear_4xx(
        console: Console, tmp_path: Path, kind: str) -> None:
    pdf = make_pdf(tmp_path / "ok.pdf", [NOTICE.splitlines()]).read_bytes()
    content, filename = {
        "docx-not-a-zip": (pdf, "notice.docx"),
        "docx-truncated": (notice_docx()[:3000], "notice.docx"),
        "pdf-truncated": (pdf[: len(pdf) // 2], "notice.pdf"),
        "pdf-without-text": (make_pdf(tmp_path / "scan.pdf", [[]]).read_bytes(), "scan.pdf"),
        "pdf-not-a-pdf": (notice_docx(), "notice.pdf"),
        "txt-binary": (bytes(range(128, 256)) * 64, "notice.txt"),
    }[kind]
    started = time.monotonic()
    resp = console.upload(content, filename, f"bad-{uuid.uuid4().hex[:8]}", "v1")
    detail = assert_clean_refusal(resp, console, (415, 422))
    assert time.monotonic() - started < 10
    if kind == "pdf-without-text":
        assert "OCR" in detail
    assert console.client.get("/api/health").status_code == 200


def test_a_document_too_big_for_the_worker_is_refused_and_the_console_unharmed(
        console: Console, tmp_path: Path) -> None:
    """Small enough unpacked to pass the zip checks; the worker's memory limit stops it."""
    content = many_paragraphs_docx(tmp_path / "paragraphs.docx", 90).read_bytes()
    before_kb = console.peak_rss_kb()
    started = time.monotonic()
    resp = console.upload(content, "paragraphs.docx", f"big-{uuid.uuid4().hex[:8]}", "v1",
                          timeout=60)
    assert_clean_refusal(resp, console, (413, 422))
    assert time.monotonic() - started < 60
    grown_mb = (console.peak_rss_kb() - before_kb) / 1024
    assert grown_mb < 100, f"the console's peak memory grew by {grown_mb:.0f} MB"
    assert console.client.get("/api/health").status_code == 200


# -- the worker itself ------------------------------------------------------------------------
def reader_processes(path: Path) -> list[str]:
    found = []
    for status in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            cmdline = status.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "knowledge.ingestion.sandbox" in cmdline and str(path) in cmdline:
            found.append(cmdline)
    return found


def test_the_reader_stops_at_its_memory_limit(tmp_path: Path) -> None:
    from knowledge.ingestion.readers import UnsupportedFormat
    from knowledge.ingestion.sandbox import read_document_isolated

    path = many_paragraphs_docx(tmp_path / "paragraphs.docx", 30)
    started = time.monotonic()
    with pytest.raises(UnsupportedFormat) as refused:
        read_document_isolated(path, memory_bytes=200 * 2**20)
    assert refused.value.kind in ("too_large", "unreadable")
    assert CHINESE.search(refused.value.reason) and str(tmp_path) not in refused.value.reason
    assert time.monotonic() - started < 30
    assert reader_processes(path) == []


def test_the_reader_is_killed_at_its_time_limit(tmp_path: Path) -> None:
    from knowledge.ingestion.sandbox import ParseTimeout, read_document_isolated

    path = many_paragraphs_docx(tmp_path / "paragraphs.docx", 30)
    started = time.monotonic()
    with pytest.raises(ParseTimeout) as refused:
        read_document_isolated(path, timeout=0.5)
    assert time.monotonic() - started < 5
    assert "秒" in refused.value.reason
    assert reader_processes(path) == []


def test_the_cli_refuses_a_doc_id_with_a_path(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture) -> None:
    from knowledge import cli

    source = tmp_path / "notice.txt"
    source.write_text(NOTICE, encoding="utf-8")
    monkeypatch.setenv("KB_HOME", str(tmp_path / "kb"))
    monkeypatch.setenv("KB_DENSE_MODEL", "none")
    for doc_id, version in (("../x", "v1"), ("/etc/x", "v1"), ("ok", "../v"), ("ok", "a/b")):
        code = cli.main(["add", str(source), "--doc-id", doc_id, "--version", version,
                         "--effective", "2026-01-01", "--title", TITLE])
        err = capsys.readouterr().err
        assert code == 2 and ("invalid doc id" in err or "invalid version" in err), err
