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

from backend.errors import ApiError, make_error


@dataclass(frozen=True)
class Refusal:
    code: str
    status: int
    message: str

    def __call__(self, *, details: dict[str, Any] | None = None, **fields: Any) -> ApiError:
        """The error to raise; ``fields`` fill the message template."""
        return make_error(self.code, self.message.format(**fields), self.status, details)

    def saying(self, message: str, *, details: dict[str, Any] | None = None) -> ApiError:
        """The error with a message of the call site's (which record, which role)."""
        return make_error(self.code, message, self.status, details)


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

# --- SPEC §9a names these for evaluations. activity_not_ended is shared with hours (they are
# confirmed after the end); an evaluation says its own words with .saying ---
ACTIVITY_NOT_ENDED = Refusal("activity_not_ended", 409, "活动结束后才能确认服务时长")
ALREADY_EVALUATED = Refusal("already_evaluated", 409, "您已评价过该活动")
EVALUATION_CLOSED = Refusal("evaluation_closed", 409, "活动结束已超过14天，评价已关闭")

# --- activities ---
RATE_REQUIRES_STAFF = Refusal(
    "rate_requires_staff", 403,
    "高于社区标准（{points_per_hour}积分/小时）的活动积分须由社区工作人员设置",
)
ACTIVITY_NOT_DRAFT = Refusal("activity_not_draft", 409, "只有草稿状态的活动可以发布")
ACTIVITY_ENDED = Refusal("activity_ended", 409, "活动已结束，不能发布")
ACTIVITY_CANCELLED = Refusal("activity_cancelled", 409, "活动已取消")
ACTIVITY_PUBLISHED = Refusal(
    "activity_published", 409,
    "活动已发布，不能修改时间；如需改期请取消后重新发布",
)
CAPACITY_BELOW_CONFIRMED = Refusal("capacity_below_confirmed", 409, "名额不能少于已确认报名的人数")
ATTENDANCE_CONFIRMED = Refusal("attendance_confirmed", 409, "服务时长已确认，积分标准不能再修改")
ACTIVITY_NOT_PUBLISHED = Refusal("activity_not_published", 409, "活动未发布或已取消，不能报名")
SIGNUP_NOT_OPEN = Refusal("signup_not_open", 409, "报名尚未开始")
SIGNUP_CLOSED = Refusal("signup_closed", 409, "报名已截止")
SIGNUP_SUSPENDED = Refusal("signup_suspended", 409, "因多次报名未到场，暂停报名至{until}")
TIME_CONFLICT = Refusal("time_conflict", 409, "与已报名的活动「{title}」时间冲突")
CANCEL_DEADLINE_PASSED = Refusal("cancel_deadline_passed", 409, "已过取消报名截止时间")

# --- auth ---
INVALID_LOGIN_CODE = Refusal("invalid_login_code", 401, "登录凭证无效或已使用，请重新登录")

# --- checkin ---
ATTENDANCE_LOCKED = Refusal(
    "attendance_locked", 409,
    "该记录已审核，不能再修改；如有错误请走积分冲正",
)
FOUR_EYES_REQUIRED = Refusal(
    "four_eyes_required", 403,
    "须由两位不同的人确认和审批，且不能是获得积分的本人，请由其他工作人员办理",
)
CHECKOUT_MISSING = Refusal("checkout_missing", 409, "有人签到后未签退，请先修正其服务时长")
ATTENDANCE_NOT_CONFIRMED = Refusal("attendance_not_confirmed", 409, "只能审核队长已确认的服务时长")
ATTENDANCE_CHANGED = Refusal(
    "attendance_changed", 409,
    "服务时长在您审核期间已被修改，请刷新后重新审核",
)
SELF_CHECKIN_NOT_ALLOWED = Refusal("self_checkin_not_allowed", 409, "该活动未开放自助签到")
SCAN_IN_PROGRESS = Refusal("scan_in_progress", 409, "相同的扫码正在处理中，请稍后重试")
UPLOAD_TOO_LATE = Refusal("upload_too_late", 409, "离线扫码记录超过{max_hours}小时，不能再上传")

# --- common ---
IDEMPOTENCY_KEY_REUSED = Refusal("idempotency_key_reused", 409, "该请求标识已用于不同的内容")
IDEMPOTENCY_REQUEST_IN_PROGRESS = Refusal(
    "idempotency_request_in_progress", 409,
    "相同的请求正在处理中，请稍后再试",
)

# --- communities ---
ALREADY_IN_COMMUNITY = Refusal(
    "already_in_community", 409,
    "您已是其他社区的居民，一次只能加入一个社区",
)
NOT_A_RESIDENT = Refusal("not_a_resident", 409, "只能添加本社区的居民为队员")

# --- gifts ---
ALREADY_FULFILLED = Refusal("already_fulfilled", 409, "该礼品已领取")
ALREADY_CANCELLED = Refusal("already_cancelled", 409, "该兑换已取消")
OUT_OF_STOCK = Refusal("out_of_stock", 409, "礼品库存不足")
LIMIT_EXCEEDED = Refusal("limit_exceeded", 409, "每人限兑 {per_user_limit} 件")
RESERVATION_EXPIRED = Refusal("reservation_expired", 409, "该预订已过期，积分将退回")
NOT_DUE = Refusal("not_due", 409, "尚未过期")
STOCK_BELOW_RESERVED = Refusal("stock_below_reserved", 409, "库存不能少于已预订和已领取的数量")

# --- notify ---
NOTIFICATION_NOT_FAILED = Refusal("notification_not_failed", 409, "只有发送失败的通知可以重试")

# --- parking ---
INVALID_CODE = Refusal("invalid_code", 409, "岗亭码无效")
POST_LOCATION_NOT_SET = Refusal(
    "post_location_not_set", 409,
    "岗亭位置尚未设置，请队长设置，或由上一班队员扫码交接",
)
LOCATION_REQUIRED = Refusal("location_required", 409, "请允许获取位置后再签到")
AWAY_FROM_POST = Refusal("away_from_post", 409, "您不在岗亭附近，请到岗后再签到")
EXPIRED_CODE = Refusal("expired_code", 409, "签到码已过期，请对方刷新后重试")
HANDOVER_NOT_ALLOWED = Refusal(
    "handover_not_allowed", 409,
    "交接班须由下班的队员扫描接班队员的签到码",
)
NOT_ON_DUTY = Refusal("not_on_duty", 409, "当前没有值班班次")
OUTSIDE_WINDOW = Refusal("outside_window", 409, "不在值班签到时间内")
SHIFT_NOT_CONFIRMED = Refusal("shift_not_confirmed", 409, "只能审批队长已确认的值班")
SHIFT_CHANGED = Refusal("shift_changed", 409, "值班积分在您审核期间已变化，请刷新后重新审批")
NOT_A_TEAM_MEMBER = Refusal("not_a_team_member", 409, "收费人须为本队队员")
DUPLICATE_FEE = Refusal("duplicate_fee", 409, "{plate} 的 {period} 停车费已登记")
FEE_IS_VOID = Refusal("fee_is_void", 409, "作废记录本身不能再作废")
FEE_ALREADY_VOID = Refusal("fee_already_void", 409, "该收费记录已作废")
NOT_PARKING_TEAM = Refusal("not_parking_team", 409, "只有车辆自治队伍才有值班排班")
NO_SHIFT_TEMPLATES = Refusal("no_shift_templates", 409, "请先设置本队的班次")
ROSTER_PUBLISHED = Refusal("roster_published", 409, "该排班表已发布")
ROSTER_OVERLAPS = Refusal("roster_overlaps", 409, "该时段已有发布的排班表")
SWAP_CONFLICT = Refusal("swap_conflict", 409, "换班会违反值班规则")
SHIFT_STARTED = Refusal("shift_started", 409, "班次已开始或已结束，不能再调整")
ROSTER_NOT_PUBLISHED = Refusal("roster_not_published", 409, "排班表尚未发布")
SWAP_ALREADY_REQUESTED = Refusal("swap_already_requested", 409, "该班次已有待处理的换班申请")
SWAP_STALE = Refusal("swap_stale", 409, "该班次已被调整，换班申请已失效")
SWAP_NOT_PENDING = Refusal("swap_not_pending", 409, "该换班申请不在待接受状态")
SWAP_NOT_ACCEPTED = Refusal("swap_not_accepted", 409, "对方尚未接受，或该申请已处理")

# --- points ---
ADJUSTMENT_ALREADY_APPLIED = Refusal("adjustment_already_applied", 409, "该积分调整已审批")
INSUFFICIENT_POINTS = Refusal("insufficient_points", 409, "积分不足")
PERIOD_CLOSED = Refusal("period_closed", 409, "{month:%Y年%m月}的账目已结账，不能再记入该月")
PERIOD_NOT_ENDED = Refusal("period_not_ended", 409, "{month:%Y年%m月}尚未结束，不能结账")
PERIOD_ALREADY_CLOSED = Refusal("period_already_closed", 409, "{month:%Y年%m月}已结账")
NOT_REVERSIBLE = Refusal("not_reversible", 409, "该积分流水不能冲正（兑换请取消兑换单）")
ALREADY_REVERSED = Refusal("already_reversed", 409, "该积分流水已冲正")

# --- voice ---
EVALUATION_ALREADY_HIDDEN = Refusal("evaluation_already_hidden", 409, "该评价已被隐藏")
NEED_LIMIT_REACHED = Refusal(
    "need_limit_reached", 409,
    "每人每天最多提出{limit}条待处理的需求，请明天再来",
)
NEED_CLOSED = Refusal("need_closed", 409, "该需求已处理完毕，不能再更改支持")
MERGE_TARGET_CLOSED = Refusal("merge_target_closed", 409, "只能合并到待处理或已受理的需求")
NEED_NOT_SERVED = Refusal("need_not_served", 409, "须有一项承接该需求的活动结束后才能办结")
NEED_ALREADY_CLOSED = Refusal("need_already_closed", 409, "该需求已处理完毕")
NEED_NOT_ACCEPTED = Refusal("need_not_accepted", 409, "只有已受理的需求可以办结")
NEED_NOT_TAKEN_BY_TEAM = Refusal("need_not_taken_by_team", 409, "只能关联本队已受理承接的需求")
