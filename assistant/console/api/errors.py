"""What a client of the console is told when a request fails: always a short Chinese `detail`,
never an internal cause (a path, a command, a server address, an exception).

Routes raise `HTTPException` with a Chinese detail written for staff; that detail is passed
on. Any other detail (Starlette's "Not Found", a lower layer's English message, a validation
error list) is logged for whoever runs the console and replaced by the status's text below.
"""

from __future__ import annotations

import logging
import re
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

log = logging.getLogger(__name__)

STATUS_TEXTS = {
    400: "请求内容不对",
    401: "请先登录（或登录已过期）",
    403: "没有权限这样做",
    404: "找不到要访问的内容",
    405: "不支持这种请求方式",
    409: "操作冲突，请刷新后重试",
    413: "请求内容太大",
    415: "不支持这种文件类型",
    422: "请求内容不完整或格式不对",
    429: "请求太频繁，请稍后再试",
    500: "服务器出错了，请稍后再试或联系系统管理员",
    502: "助手暂时连不上，请稍后再试",
    503: "服务暂时不可用，请稍后再试",
}
CLIENT_ERROR, SERVER_ERROR = "请求没有成功，请检查后重试", STATUS_TEXTS[500]
_CHINESE = re.compile(r"[\u4e00-\u9fff]")


def client_detail(status: int, detail: object) -> str:
    """The detail a client may see: the route's own Chinese text, else the status's."""
    if isinstance(detail, str) and _CHINESE.search(detail):
        return detail
    standard = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else ""
    if detail != standard:
        log.warning("console: a %d's detail replaced for the client: %r", status, detail)
    return STATUS_TEXTS.get(status, CLIENT_ERROR if status < 500 else SERVER_ERROR)


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return JSONResponse(
        {"detail": client_detail(exc.status_code, exc.detail)},
        status_code=exc.status_code,
        headers=exc.headers,
    )


async def invalid_request(request: Request, exc: Exception) -> JSONResponse:
    """422 with the names of the fields at fault (the API's own), not the validator's text."""
    assert isinstance(exc, RequestValidationError)
    fields = sorted(
        {".".join(str(part) for part in error.get("loc", ())) for error in exc.errors()}
    )
    return JSONResponse({"detail": STATUS_TEXTS[422], "fields": fields}, status_code=422)


async def server_error(request: Request, exc: Exception) -> JSONResponse:
    """A 500 without its cause; the traceback goes to the console's log (uvicorn)."""
    return JSONResponse({"detail": SERVER_ERROR}, status_code=500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(Exception, server_error)
