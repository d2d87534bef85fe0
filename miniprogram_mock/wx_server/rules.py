"""Argument checks the platform applies to subscribe messages and mini-program codes.

Limits are those of WeChat's "订阅消息参数值内容限制" table (shared/notes/wechat-rq-roster.md
§1.4): the checker is chosen by the key's prefix, ``thing3`` → ``thing``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any

from miniprogram_mock.wx_server.errors import WxFault

STATES = ("developer", "trial", "formal")
LANGS = ("zh_CN", "en_US", "zh_HK", "zh_TW")
ENV_VERSIONS = ("release", "trial", "develop")

_PAGE_PATH = r"[A-Za-z0-9_\-]+(?:/[A-Za-z0-9_\-.]+)*"
_PAGE_WITH_QUERY = re.compile(rf"{_PAGE_PATH}(?:\?[^\s#]*)?")
_PAGE_ONLY = re.compile(_PAGE_PATH)
_SCENE = re.compile(r"[0-9A-Za-z!#$&'()*+,/:;=?@\-._~]{1,32}")
_TEMPLATE_ID = re.compile(r"[A-Za-z0-9_\-]{1,64}")

_CJK = re.compile(r"[\u4e00-\u9fff]")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_LETTERS = re.compile(r"[A-Za-z]{1,32}")
_ASCII = re.compile(r"[\x20-\x7e]{1,32}")
_AMOUNT = re.compile(r"[¥￥$€£]?\d{1,10}(?:\.\d{1,2})?元?")
_PHONE = re.compile(r"[\d+\-() ]{1,17}")
_CAR = re.compile(r"[\u4e00-\u9fff]?[A-Za-z0-9]+[\u4e00-\u9fff]?")
_PHRASE = re.compile(r"[\u4e00-\u9fff]{1,5}")
_POINT = re.compile(r"(?P<date>[^\s:]*?)\s*(?P<clock>\d{1,2}:\d{2}(?::\d{2})?)?")
_DATES = (
    re.compile(r"(?P<y>\d{4})年(?P<m>\d{1,2})月(?P<d>\d{1,2})日"),
    re.compile(r"(?P<y>\d{4})(?P<sep>[-/.])(?P<m>\d{1,2})(?P=sep)(?P<d>\d{1,2})"),
    re.compile(r"(?P<m>\d{1,2})月(?P<d>\d{1,2})日"),
)


def check_page(page: Any, allow_query: bool = True) -> None:
    """Pages are in-app paths such as ``pages/index/index``: no leading "/", no scheme."""
    pattern = _PAGE_WITH_QUERY if allow_query else _PAGE_ONLY
    if not isinstance(page, str) or not pattern.fullmatch(page):
        raise WxFault(41030)


def check_scene(scene: Any) -> None:
    if not isinstance(scene, str) or not _SCENE.fullmatch(scene):
        raise WxFault(40169)


def is_template_id(template_id: Any) -> bool:
    return isinstance(template_id, str) and bool(_TEMPLATE_ID.fullmatch(template_id))


def build_message(body: dict[str, Any]) -> dict[str, Any]:
    """Validate a subscribe/send body (except the recipient) and return what gets recorded."""
    template_id = body.get("template_id")
    if not is_template_id(template_id):
        raise WxFault(40037)
    page = body.get("page") or None
    if page is not None:
        check_page(page)
    state = body.get("miniprogram_state") or "formal"
    lang = body.get("lang") or "zh_CN"
    if state not in STATES:
        raise WxFault(47003, "argument invalid! miniprogram_state invalid")
    if lang not in LANGS:
        raise WxFault(47003, "argument invalid! lang invalid")
    return {
        "touser": body.get("touser"),
        "template_id": template_id,
        "page": page,
        "data": check_data(body.get("data")),
        "miniprogram_state": state,
        "lang": lang,
    }


def check_data(data: Any) -> dict[str, dict[str, str]]:
    if not isinstance(data, dict) or not data:
        raise WxFault(47003, "argument invalid! data is empty")
    return {key: {"value": _checked_value(key, item)} for key, item in data.items()}


def _checked_value(key: str, item: Any) -> str:
    value = item.get("value") if isinstance(item, dict) else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)  # the platform takes JSON numbers as their text
    checker = VALUE_CHECKS.get(re.sub(r"\d+$", "", key))
    if not isinstance(value, str) or not value or checker is None or not checker(value):
        raise WxFault(47003, f"argument invalid! data.{key}.value invalid")
    return value


def _is_name(value: str) -> bool:
    return len(value) <= (10 if _CJK.search(value) else 20)


def _is_symbols(value: str) -> bool:
    return len(value) <= 5 and not any(ch.isalnum() or ch.isspace() for ch in value)


def _is_date(text: str) -> bool:
    match = next((m for pattern in _DATES if (m := pattern.fullmatch(text))), None)
    if match is None:
        return False
    parts = match.groupdict()
    try:
        date(int(parts.get("y") or 2000), int(parts["m"]), int(parts["d"]))
    except ValueError:
        return False
    return True


def _is_clock(text: str) -> bool:
    hours, minutes, *seconds = (int(part) for part in text.split(":"))
    return hours < 24 and minutes < 60 and all(s < 60 for s in seconds)


def _is_point(text: str, need_date: bool, need_clock: bool) -> bool:
    match = _POINT.fullmatch(text.strip())
    if not match or (need_date and not match["date"]) or (need_clock and not match["clock"]):
        return False
    date_ok = not match["date"] or _is_date(match["date"])
    return date_ok and (not match["clock"] or _is_clock(match["clock"]))


def _is_span(value: str, need_date: bool, need_clock: bool) -> bool:
    """time/date values may be one point or a range "a~b"; the end may omit the date."""
    first, *rest = re.split(r"[~～]", value)
    if len(rest) > 1 or not _is_point(first, need_date, need_clock):
        return False
    return all(end.strip() and _is_point(end, False, False) for end in rest)


VALUE_CHECKS: dict[str, Callable[[str], bool]] = {
    "thing": lambda v: len(v) <= 20,
    "number": lambda v: len(v) <= 32 and bool(_NUMBER.fullmatch(v)),
    "letter": lambda v: bool(_LETTERS.fullmatch(v)),
    "symbol": _is_symbols,
    "character_string": lambda v: bool(_ASCII.fullmatch(v)),
    "time": lambda v: _is_span(v, need_date=False, need_clock=True),
    "date": lambda v: _is_span(v, need_date=True, need_clock=False),
    "amount": lambda v: bool(_AMOUNT.fullmatch(v)),
    "phone_number": lambda v: bool(_PHONE.fullmatch(v)),
    "car_number": lambda v: len(v) <= 8 and bool(_CAR.fullmatch(v)),
    "name": _is_name,
    "phrase": lambda v: bool(_PHRASE.fullmatch(v)),
}
