"""The JSON body, checked once before any view reads it (SPEC §2: no request gets a 500).

Python's ``json`` raises what the API's error handlers would answer with a 500: a
``RecursionError`` for deeply nested arrays, a ``ValueError`` for an integer of more than
4,300 digits; and it accepts what no client means (``NaN``, lone surrogates in keys, which
cannot be encoded back into an error message). So each JSON body is parsed here first:
malformed, too deep or not UTF-8 → 400, a number too long for any field → 422 naming the
field, too large (``MAX_CONTENT_LENGTH``) → 413 from Werkzeug. The views' schemas then
parse the same bytes knowing they are sound; their fields hold the text policy
(``common.schemas``).
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Flask, request

from backend.errors import ApiError, ValidationFailed
from backend.refusals import BAD_REQUEST

MAX_DEPTH = 32
# No field takes a number with more characters than this (ids fit in 10 digits).
MAX_NUMBER_CHARS = 40
_SURROGATE = re.compile("[\ud800-\udfff]")


class _LongNumber:
    """A number literal too long for any field, kept in place so that its path is known."""


def _number(literal: str, convert):
    return _LongNumber() if len(literal) > MAX_NUMBER_CHARS else convert(literal)


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def register(app: Flask) -> None:
    app.before_request(check_json_body)


def check_json_body() -> None:
    """Refuse an unsound JSON body with the envelope before any view or hook parses it."""
    if not request.is_json:
        return
    raw = request.get_data(cache=True)  # over MAX_CONTENT_LENGTH: Werkzeug's 413
    if not raw:
        return
    problems = _long_numbers(_parse(raw))
    if problems:
        raise ValidationFailed({path: ["数字位数过多"] for path in problems})


def _parse(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_no_constant,
                          parse_int=lambda s: _number(s, int),
                          parse_float=lambda s: _number(s, float))
    except RecursionError:
        raise _bad("请求内容嵌套过深") from None
    except ValueError:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise _bad("请求内容不是有效的 JSON") from None


def _long_numbers(document: Any) -> list[str]:
    """Paths of the too-long numbers; refuses nesting beyond ``MAX_DEPTH`` and keys that are
    not text (lone surrogates). Iterative, so depth itself cannot overflow the stack."""
    found: list[str] = []
    stack: list[tuple[Any, str, int]] = [(document, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _bad("请求内容嵌套过深")
        if isinstance(value, _LongNumber):
            found.append(path or "_body")
        elif isinstance(value, dict):
            for key, item in value.items():
                if _SURROGATE.search(key):
                    raise _bad("请求内容含有无效字符")
                stack.append((item, f"{path}.{key}" if path else key, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, f"{path}.{i}" if path else str(i), depth + 1)
                         for i, item in enumerate(value))
    return sorted(found)


def _bad(message: str) -> ApiError:
    return BAD_REQUEST.saying(message)
