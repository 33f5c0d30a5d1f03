"""Reads a policy document file into plain text, one paragraph a line, for the clause parser.

* .txt: UTF-8 (with or without BOM) or GB18030, as many government sites serve.
* .docx (python-docx): paragraphs and table rows (cells joined by a space) in document order.
  Word's automatic list numbering is not part of the text and is lost: type the numbers.
* .html/.htm (beautifulsoup4 + lxml): script/style/nav/header/footer dropped; one line per
  block element; the page's declared charset is honoured.
* .pdf (pypdf): the text layer only; a scanned PDF (no text) is refused: OCR it first.

The parsers are imported when a file of their kind is read, so `bin/kb` starts without them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path


class UnsupportedFormat(ValueError):
    pass


def read_text_file(path: Path) -> str:
    data = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise UnsupportedFormat(f"{path}: neither UTF-8 nor GB18030 text")


def read_docx(path: Path) -> str:
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
        raise UnsupportedFormat(f"{path}: the PDF has no text layer (a scan?); run OCR on it"
                                " first and add the text")
    return text


READERS: dict[str, Callable[[Path], str]] = {
    ".txt": read_text_file,
    ".docx": read_docx,
    ".html": read_html,
    ".htm": read_html,
    ".pdf": read_pdf,
}


def read_document(path: Path) -> str:
    path = Path(path)
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise UnsupportedFormat(f"{path}: unsupported format {path.suffix or '(none)'};"
                                f" supported: {', '.join(sorted(READERS))}")
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    return reader(path)
