"""Document formats (.txt, .docx, .html, text-layer .pdf) and the common Chinese layouts.

Every document is made here: python-docx writes the .docx, the HTML is text, and the PDF is
written with pypdf (the installed PDF library) using a Type0 font whose ToUnicode map makes
each code point its own glyph id, so the text layer holds real Chinese text.
"""

from __future__ import annotations

from pathlib import Path

import docx
import pytest
from pypdf import PdfWriter
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    NameObject,
    NumberObject,
    TextStringObject,
)

from knowledge.ingestion.clause_parser import ClauseParser, chinese_number
from knowledge.ingestion.readers import UnsupportedFormat, read_document
from knowledge.language.normalizer import TextNormalizer
from knowledge.models import DocumentInfo
from knowledge.publishing.workflow import add_version, publish_version
from tests.unit.knowledge.helpers import make_kb

NOTICE = [
    "关于做好重点行业差别化管控工作的通知",
    "各市生态环境局：",
    "为做好差别化管控工作，现通知如下。",
    "一、总体要求",
    "以改善环境质量为核心，坚持精准治污、科学治污。",
    "二、重点任务",
    "（一）强化源头管控。各地要严格环境准入，严禁新增落后产能。",
    "1. 严格项目审批；",
    "2. 加强事中事后监管。",
    "（二）推进深度治理",
    "钢铁企业要在年底前完成超低排放改造。",
    "（四）跳号的一项。这一行无法作为条目。",
    "三、保障措施",
    "1、加强组织领导",
    "各地要建立差别化管控工作机制。",
]
INFO = DocumentInfo("notice", "1", "测试通知")


def parse(text: str, info: DocumentInfo = INFO):
    return ClauseParser(TextNormalizer()).parse(text, info)


def test_common_layouts_sections_items_and_unplaced_lines() -> None:
    p = parse("\n".join(NOTICE))
    assert p.sections == ["总体要求", "重点任务", "保障措施"]
    keys = {c.clause_key: c for c in p.clauses}
    assert list(keys) == ["导语", "总体要求", "重点任务/1", "重点任务/2", "保障措施/1"]
    assert keys["重点任务/1"].title == "强化源头管控"
    assert "严格项目审批" in keys["重点任务/1"].text  # 1. sub-points stay in their item
    assert keys["重点任务/2"].citation == "《测试通知》重点任务 第2条"
    assert keys["总体要求"].item_no is None and "精准治污" in keys["总体要求"].text
    assert p.unplaced_lines == ["（四）跳号的一项。这一行无法作为条目。"]


def test_articles_and_chapters() -> None:
    text = "\n".join(["某某管理办法", "第一章 总则", "第一条 为了规范管理，制定本办法。",
                      "第二条 本办法适用于全省。", "第二章 管理", "第三条 企业应当依法排污。",
                      "第三条规定的企业除外。"])
    p = parse(text)
    assert [c.clause_key for c in p.clauses] == ["第一章 总则/1", "第一章 总则/2", "第二章 管理/3"]
    assert p.clauses[2].citation == "《测试通知》第二章 管理 第3条"
    assert p.unplaced_lines == ["第三条规定的企业除外。"]
    flat = parse("\n".join(["某某办法", "第一条 目的。", "第二条 范围。"]))
    assert [(c.clause_key, c.citation) for c in flat.clauses] == [
        ("第1条", "《测试通知》第1条"), ("第2条", "《测试通知》第2条")]
    assert [chinese_number(s) for s in ("一", "十", "十二", "二十", "一百零五", "7")] == [
        1, 10, 12, 20, 105, 7]


def make_docx(path: Path, lines: list[str]) -> Path:
    document = docx.Document()
    for line in lines[:-2]:
        document.add_paragraph(line)
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text, table.rows[0].cells[1].text = lines[-2], ""
    document.add_paragraph(lines[-1])
    document.save(str(path))
    return path


def make_html(path: Path, lines: list[str]) -> Path:
    body = "".join(f"<p>{line}</p>" if i % 2 else f"<div><span>{line}</span></div>"
                   for i, line in enumerate(lines))
    path.write_bytes(("<html><head><meta charset='gb18030'><title>标题</title>"
                      "<style>p {color: red}</style></head><body><nav>首页 | 政策</nav>"
                      f"{body}<script>var x = '不要';</script><footer>版权所有</footer>"
                      "</body></html>").encode("gb18030"))
    return path


def _to_unicode_cmap() -> bytes:
    ranges = "\n".join(f"<{h:02X}00> <{h:02X}FF> <{h:02X}00>" for h in range(256))
    return ("/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n"
            "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
            "/CMapName /Adobe-Identity-UCS def /CMapType 2 def\n"
            "1 begincodespacerange <0000> <FFFF> endcodespacerange\n"
            f"256 beginbfrange\n{ranges}\nendbfrange\nendcmap CMapName currentdict /CMap"
            " defineresource pop end end").encode()


def make_pdf(path: Path, pages: list[list[str]]) -> Path:
    writer = PdfWriter()
    to_unicode = DecodedStreamObject()
    to_unicode.set_data(_to_unicode_cmap())
    cid_font = DictionaryObject({
        NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject(
            "/CIDFontType2"), NameObject("/BaseFont"): NameObject("/STSong-Light"),
        NameObject("/CIDSystemInfo"): DictionaryObject({
            NameObject("/Registry"): TextStringObject("Adobe"),
            NameObject("/Ordering"): TextStringObject("Identity"),
            NameObject("/Supplement"): NumberObject(0)}),
        NameObject("/DW"): NumberObject(1000)})
    font = writer._add_object(DictionaryObject({
        NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type0"),
        NameObject("/BaseFont"): NameObject("/STSong-Light"),
        NameObject("/Encoding"): NameObject("/Identity-H"),
        NameObject("/DescendantFonts"): ArrayObject([writer._add_object(cid_font)]),
        NameObject("/ToUnicode"): writer._add_object(to_unicode)}))
    for lines in pages:
        page = writer.add_blank_page(595, 842)
        page[NameObject("/Resources")] = DictionaryObject({NameObject("/Font"): DictionaryObject(
            {NameObject("/F1"): font})})
        ops = ["BT /F1 12 Tf 40 800 Td 14 TL"]
        ops += ["<" + "".join(f"{ord(c):04X}" for c in line) + "> Tj T*" for line in lines]
        content = DecodedStreamObject()
        content.set_data("\n".join([*ops, "ET"]).encode())
        page[NameObject("/Contents")] = writer._add_object(content)
    with path.open("wb") as f:
        writer.write(f)
    return path


@pytest.mark.parametrize("kind", ["txt", "gb18030.txt", "docx", "html", "pdf"])
def test_every_format_gives_the_same_clauses(kind: str, tmp_path: Path) -> None:
    path = tmp_path / f"notice.{kind}"
    if kind == "txt":
        path.write_text("\n".join(NOTICE), encoding="utf-8")
    elif kind == "gb18030.txt":
        path.write_bytes("\n".join(NOTICE).encode("gb18030"))
    elif kind == "docx":
        make_docx(path, NOTICE)
    elif kind == "html":
        make_html(path, NOTICE)
    else:
        make_pdf(path, [NOTICE[:8], NOTICE[8:]])  # two pages
    text = read_document(path)
    assert "首页" not in text and "不要" not in text and "版权所有" not in text
    reference = parse("\n".join(NOTICE))
    p = parse(text)
    assert [(c.clause_key, c.title, c.text) for c in p.clauses] == [
        (c.clause_key, c.title, c.text) for c in reference.clauses]
    assert p.unplaced_lines == reference.unplaced_lines


def test_unsupported_and_scanned_documents_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedFormat, match=r"unsupported format \.doc"):
        read_document(tmp_path / "old.doc")
    with pytest.raises(FileNotFoundError):
        read_document(tmp_path / "missing.txt")
    scan = make_pdf(tmp_path / "scan.pdf", [[]])
    with pytest.raises(UnsupportedFormat, match="no text layer"):
        read_document(scan)


def test_a_docx_document_is_added_and_published(tmp_path: Path) -> None:
    kb = make_kb(tmp_path / "kb")
    src = make_docx(tmp_path / "notice.docx", NOTICE)
    report = add_version(kb, src, "notice", "2026", "2026-01-01", title="测试通知")
    assert report.parsed.unplaced_lines == ["（四）跳号的一项。这一行无法作为条目。"]
    publish_version(kb, "notice", "2026")
    hit = kb.retriever.search("钢铁企业超低排放改造什么时候完成？", 3).hits[0].passage
    assert hit.doc_id == "notice" and hit.citation == "《测试通知》重点任务 第2条"
