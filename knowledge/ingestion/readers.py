"""Reads a policy document file into plain text, one paragraph a line, for the clause parser.

* .txt: UTF-8 (with or without BOM) or GB18030, as many government sites serve.
* .docx (python-docx): paragraphs and table rows (cells joined by a space) in document order.
  Word's automatic list numbering is not part of the text and is lost: type the numbers.
  The zip is checked before python-docx opens it: at most `MAX_DOCX_MEMBERS` members and
  `MAX_DOCX_UNPACKED_BYTES` unpacked (zipfile never inflates a member beyond its declared size).
* .html/.htm (beautifulsoup4 + lxml): script/style/nav/header/footer dropped; one line per
  block element; the page's declared charset is honoured.
* .pdf (pypdf): the text layer only; a scanned PDF (no text) is refused: OCR it first.
* .md: a text file as law collections publish them (headings, inline HTML, front matter);
  the markup is removed by knowledge/ingestion/markup.py.

A file that cannot be read raises `UnsupportedFormat` (a `ValueError`) or one of its kinds,
`DocumentTooLarge` and `UnreadableDocument`: `str()` is the cause for the log and the CLI (it
names the path), `reason` a short Chinese sentence for staff that names no path. A parser's
own exception is wrapped, so a corrupt file never ends in a traceback. Untrusted files (the
console's uploads) are read through `knowledge.ingestion.sandbox`, in a worker process with
time and memory limits.

The parsers are imported when a file of their kind is read, so `bin/kb` starts without them.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from pathlib import Path

MAX_DOCX_MEMBERS = 2000  # a long Word document has a few dozen; images add one each
MAX_DOCX_UNPACKED_BYTES = 100 * 1024 * 1024
MAX_TEXT_CHARS = 5_000_000  # about 3,000 pages of Chinese text


class UnsupportedFormat(ValueError):
    """The file cannot be read as a policy document."""

    kind = "unsupported"

    def __init__(self, message: str, reason: str = "不支持这种文件格式") -> None:
        super().__init__(message)
        self.reason = reason  # for staff: Simplified Chinese, no path


class DocumentTooLarge(UnsupportedFormat):
    """Too many parts, too large once unpacked, or too much text."""

    kind = "too_large"


class UnreadableDocument(UnsupportedFormat):
    """Corrupt, truncated, not what its suffix says, or without a text layer."""

    kind = "unreadable"


def read_text_file(path: Path) -> str:
    data = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise UnreadableDocument(f"{path}: neither UTF-8 nor GB18030 text",
                             "文本文件不是 UTF-8 或 GB18030 编码")


def check_docx_package(path: Path) -> None:
    """Refuses a .docx that is not a zip, or whose members are too many or too large."""
    try:
        with zipfile.ZipFile(path) as package:
            members = package.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
        raise UnreadableDocument(f"{path}: not a .docx package ({exc})",
                                 "不是有效的 Word（.docx）文件，可能已损坏") from exc
    if len(members) > MAX_DOCX_MEMBERS:
        raise DocumentTooLarge(f"{path}: {len(members)} zip members (at most"
                               f" {MAX_DOCX_MEMBERS})", "Word 文件内部结构异常（部件过多）")
    unpacked = sum(m.file_size for m in members)
    if unpacked > MAX_DOCX_UNPACKED_BYTES:
        raise DocumentTooLarge(
            f"{path}: {unpacked} bytes once unpacked (at most {MAX_DOCX_UNPACKED_BYTES})",
            f"Word 文件解压后超过 {MAX_DOCX_UNPACKED_BYTES // 2**20} MB")


def read_docx(path: Path) -> str:
    check_docx_package(path)
    import docx  # python-docx
    from docx.table import Table

    document = docx.Document(str(path))
    lines = []
    for block in document.iter_inner_content():  # paragraphs and tables in document order
        if isinstance(block, Table):
            for row in block.rows:
                cells = dict.fromkeys(c.text.strip() for c in row.cells)  # merged cells repeat
                lines.append(" ".join(c for c in cells if c))
        else:
            lines.append(block.text)
    return "\n".join(line for line in lines if line.strip())


def read_markdown(path: Path) -> str:
    from knowledge.ingestion.markup import markdown_to_lines

    return "\n".join(markdown_to_lines(read_text_file(path)))


_BLOCKS = ("p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "br", "section",
           "article", "td", "th", "dd", "dt", "pre", "blockquote")


def read_html(path: Path) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(path.read_bytes(), "lxml")
    for tag in soup(["script", "style", "noscript", "nav", "header", "footer", "head"]):
        tag.decompose()
    for tag in soup.find_all(_BLOCKS):
        tag.insert_before("\n")
        tag.insert_after("\n")
    text = soup.get_text()
    lines = (re.sub(r"[ \t\u3000\xa0]+", " ", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def read_pdf(path: Path) -> str:
    from pypdf import PdfReader

    reader = PdfReader(str(path))
    pages = [(page.extract_text() or "") for page in reader.pages]
    text = "\n".join(pages)
    if not text.strip():
        raise UnreadableDocument(f"{path}: the PDF has no text layer (a scan?); run OCR on it"
                                 " first and add the text",
                                 "PDF 没有文字层（可能是扫描件），请先做文字识别（OCR）")
    return text


READERS: dict[str, Callable[[Path], str]] = {
    ".txt": read_text_file,
    ".md": read_markdown,
    ".docx": read_docx,
    ".html": read_html,
    ".htm": read_html,
    ".pdf": read_pdf,
}
SUPPORTED_SUFFIXES = tuple(READERS)
_KIND_NAMES = {".txt": "文本", ".md": "Markdown 文本", ".docx": "Word（.docx）", ".html": "网页",
               ".htm": "网页", ".pdf": "PDF"}


def unsupported_reason() -> str:
    return f"只支持 {'、'.join(SUPPORTED_SUFFIXES)} 文件"


def read_document(path: Path) -> str:
    path = Path(path)
    suffix = path.suffix.lower()
    reader = READERS.get(suffix)
    if reader is None:
        raise UnsupportedFormat(f"{path}: unsupported format {path.suffix or '(none)'};"
                                f" supported: {', '.join(sorted(READERS))}",
                                unsupported_reason())
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        text = reader(path)
    except (UnsupportedFormat, OSError, MemoryError):
        raise
    except Exception as exc:  # a parser's error on a corrupt file: a refusal, not a traceback
        raise UnreadableDocument(
            f"{path}: cannot read the {suffix} file ({type(exc).__name__}: {exc})",
            f"无法读取这个{_KIND_NAMES[suffix]}文件，可能已损坏或格式不对") from exc
    if len(text) > MAX_TEXT_CHARS:
        raise DocumentTooLarge(f"{path}: {len(text)} characters of text (at most"
                               f" {MAX_TEXT_CHARS})",
                               f"文件文字超过 {MAX_TEXT_CHARS // 10_000} 万字，请拆分后上传")
    return text
