"""Amended versions of the shipped opinion, made from its raw text, for benchmarks and tests.

The publishing tests and the publish benchmark need a realistic second version of the same
document: this is the one place that makes it.
"""

from __future__ import annotations

from pathlib import Path

RAW_SOURCE = (Path(__file__).resolve().parent.parent / "knowledge" / "sources"
              / "hebei-differentiated-control-opinion.raw.txt")


def amended_opinion(remove_item_4: bool = True) -> str:
    """The shipped raw text (traditional script, as scraped) with the three amendments."""
    raw = RAW_SOURCE.read_text(encoding="utf-8")
    old = "提前1至2天發(fā)布預(yù)警信息"
    assert old in raw
    lines = raw.replace(old, "提前2至3天發(fā)布預(yù)警信息").split("\n")
    if remove_item_4:
        at = next(n for n, line in enumerate(lines) if line.startswith("4、完善"))
        del lines[at:at + 2]
        for n, line in enumerate(lines):
            if line.startswith(("5、調(diào)整", "6、加大")):
                lines[n] = f"{int(line[0]) - 1}{line[1:]}"
    tail = next(n for n, line in enumerate(lines) if line.startswith("使用微信"))
    lines[tail:tail] = [
        "3、加強(qiáng)政策宣傳解讀",
        "各地要通過(guò)政府網(wǎng)站、新聞發(fā)布會(huì)等方式,及時(shí)向企業(yè)解讀差別化管控政策,"
        "公開(kāi)正向鼓勵(lì)清單和錯(cuò)峰生產(chǎn)清單。",
    ]
    return "\n".join(lines)
