"""The refusal catalogue: every error code the API answers, its HTTP status and its message.

A call site raises an entry, never a string literal: ``raise OUT_OF_STOCK(details={...})``.
A message may be a ``str.format`` template; its fields are keyword arguments of the call
(``raise LIMIT_EXCEEDED(per_user_limit=3)``). The generic status codes (``not_found``,
``forbidden``, …) say which record or role through ``.saying("找不到该活动")``; so do the
few domain codes whose call sites still tell different situations apart (listed in
``tests/test_refusals.py``). ``scripts/refusals_convert.py`` keeps this file: it adds the
entry for a code it finds inline in ``backend/``; edit messages here, by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from backend.errors import ApiError


@dataclass(frozen=True)
class Refusal:
    code: str
    status: int
    message: str

    def __call__(self, *, details: dict[str, Any] | None = None, **fields: Any) -> ApiError:
        """The error to raise; ``fields`` fill the message template."""
        return ApiError(self.code, self.message.format(**fields), self.status, details)

    def saying(self, message: str, *, details: dict[str, Any] | None = None) -> ApiError:
        """The error with a message of the call site's (which record, which role)."""
        return ApiError(self.code, message, self.status, details)


def catalogue() -> dict[str, Refusal]:
    """Every entry of this module, by code."""
    return {entry.code: entry for entry in globals().values() if isinstance(entry, Refusal)}


def documented(*refusals: Refusal) -> dict[int, list[Refusal]]:
    """``refusals`` grouped by HTTP status, codes sorted (for the OpenAPI description)."""
    by_status: dict[int, list[Refusal]] = {}
    for refusal in sorted(set(refusals), key=lambda r: (r.status, r.code)):
        by_status.setdefault(refusal.status, []).append(refusal)
    return by_status


# --- the generic codes of SPEC §2 (messages as backend.errors.STATUS_CODES) ---
BAD_REQUEST = Refusal("bad_request", 400, "请求格式有误")
UNAUTHENTICATED = Refusal("unauthenticated", 401, "请先登录")
FORBIDDEN = Refusal("forbidden", 403, "没有权限执行此操作")
NOT_FOUND = Refusal("not_found", 404, "找不到该记录")
VALIDATION_ERROR = Refusal("validation_error", 422, "提交的内容有误")
RATE_LIMITED = Refusal("rate_limited", 429, "操作太频繁，请稍后再试")
UNAVAILABLE = Refusal("unavailable", 503, "服务暂时不可用，请稍后再试")

# --- SPEC §9a (evaluations): defined ahead of the feature, raised once it is built ---
ACTIVITY_NOT_ENDED = Refusal("activity_not_ended", 409, "活动结束后才能确认服务时长")
ALREADY_EVALUATED = Refusal("already_evaluated", 409, "您已评价过该活动")
EVALUATION_CLOSED = Refusal("evaluation_closed", 409, "活动结束已超过14天，不能再评价")
