"""A small notice, in two versions, that the console tests publish (not a test module)."""

from __future__ import annotations

from pathlib import Path

NOTICE_TITLE = "关于企业环保信用修复办理时限的通知"

NOTICE_V1 = """关于企业环保信用修复办理时限的通知

一、办理时限
（一）企业环保信用修复申请的办理时限为15个工作日，受理部门应当在时限内办结并书面告知企业结果。
（二）材料不全的，受理部门应当一次性告知企业需要补正的全部材料。
二、工作要求
（一）各级生态环境部门应当公开信用修复的办理流程和咨询电话。
"""

NOTICE_V2 = NOTICE_V1.replace("15个工作日", "10个工作日")


def notice_file(directory: Path, text: str) -> Path:
    path = directory / f"notice-{abs(hash(text)) % 10_000}.txt"
    path.write_text(text, encoding="utf-8")
    return path
