"""One error type and the handlers that turn every failure into the SPEC §2 envelope."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, current_app, jsonify
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException

from backend.database import discard_transaction

log = logging.getLogger(__name__)

# Stable English code and a message a resident can read, per HTTP status.
STATUS_CODES: dict[int, tuple[str, str]] = {
    400: ("bad_request", "请求格式有误"),
    401: ("unauthenticated", "请先登录"),
    403: ("forbidden", "没有权限执行此操作"),
    404: ("not_found", "找不到该记录"),
    405: ("method_not_allowed", "不支持该请求方式"),
    409: ("conflict", "请求与当前状态冲突"),
    413: ("payload_too_large", "请求内容过大"),
    415: ("unsupported_media_type", "请使用 JSON 格式"),
    422: ("validation_error", "提交的内容有误"),
    429: ("rate_limited", "操作太频繁，请稍后再试"),
    500: ("internal_error", "系统繁忙，请稍后再试"),
    503: ("unavailable", "服务暂时不可用，请稍后再试"),
}


class ApiError(Exception):
    """A refusal the client should see: stable ``code``, zh-CN ``message``, HTTP ``status``."""

    def __init__(
        self, code: str, message: str, status: int = 409, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(code)
        self.code = code
        self.message = message
        self.status = status
        self.details = details or {}


# The helpers below predate the catalogue (backend/refusals.py); scripts/refusals_convert.py
# rewrites their call sites into catalogue entries. Kept for branches not converted yet.
class NotFound(ApiError):
    def __init__(self, message: str = "找不到该记录") -> None:
        super().__init__("not_found", message, 404)


class Forbidden(ApiError):
    def __init__(self, message: str = "没有权限执行此操作", code: str = "forbidden",
                 details: dict[str, Any] | None = None) -> None:
        super().__init__(code, message, 403, details)


class Unauthenticated(ApiError):
    def __init__(self, message: str = "请先登录", code: str = "unauthenticated") -> None:
        super().__init__(code, message, 401)


class ValidationFailed(ApiError):
    def __init__(self, fields: dict[str, list[str]], message: str = "提交的内容有误") -> None:
        super().__init__("validation_error", message, 422, {"fields": fields})


_KIND_BY_STATUS: dict[int, type[ApiError]] = {401: Unauthenticated, 403: Forbidden, 404: NotFound}


def make_error(code: str, message: str, status: int,
               details: dict[str, Any] | None = None) -> ApiError:
    """An ApiError of the class its status had before the catalogue, so that an
    ``except NotFound`` (e.g. "is this activity visible?") still catches a 404 refusal."""
    kind = _KIND_BY_STATUS.get(status, ApiError)
    error = Exception.__new__(kind)
    ApiError.__init__(error, code, message, status, details)
    return error


def envelope(code: str, message: str, status: int, details: dict[str, Any] | None = None):
    response = jsonify({"error": {"code": code, "message": message, "details": details or {}}})
    response.status_code = status
    return response


def handle_api_error(error: ApiError):
    return envelope(error.code, error.message, error.status, error.details)


def handle_http_exception(error: HTTPException):
    status = error.code or 500
    code, message = STATUS_CODES.get(status, ("http_error", error.description or "请求失败"))
    data = getattr(error, "data", None) or {}
    details: dict[str, Any] = {}
    if status == 422 and "messages" in data:
        details["fields"] = _flatten_locations(data["messages"])
    response = envelope(code, message, status, details)
    for name, value in (data.get("headers") or {}).items():
        response.headers[name] = value
    if status == 405 and hasattr(error, "valid_methods") and error.valid_methods:
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


def _flatten_locations(messages: dict[str, Any]) -> dict[str, Any]:
    """webargs nests errors by location (json, query); the envelope maps field → messages."""
    fields: dict[str, Any] = {}
    for location_errors in messages.values():
        if isinstance(location_errors, dict):
            fields.update(location_errors)
        else:
            fields.setdefault("_body", []).extend(location_errors)
    return fields


def _rollback() -> None:
    # Through the app, not ``backend.extensions``: extensions imports the API class, which
    # imports the refusal catalogue, which builds on this module.
    discard_transaction(current_app.extensions["sqlalchemy"].session)


def handle_integrity_error(error: IntegrityError):
    _rollback()
    log.info("integrity error turned into 409: %s", error.orig)
    return envelope("conflict", "请求与当前状态冲突，请刷新后重试", 409)


def handle_database_unavailable(error: DBAPIError):
    _rollback()
    log.warning("database unavailable: %s", error)
    code, message = STATUS_CODES[503]
    return envelope(code, message, 503)


def handle_unexpected(error: Exception):
    if isinstance(error, HTTPException):
        return handle_http_exception(error)
    log.exception("unexpected error")
    _rollback()
    code, message = STATUS_CODES[500]
    return envelope(code, message, 500)


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(ApiError, handle_api_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(IntegrityError, handle_integrity_error)
    app.register_error_handler(OperationalError, handle_database_unavailable)
    app.register_error_handler(Exception, handle_unexpected)
