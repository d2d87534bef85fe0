from __future__ import annotations

import re
from datetime import time
from decimal import Decimal

import marshmallow as ma

from backend.common.clock import LocalDateTime
from backend.common.pagination import PageArgsSchema
from backend.common.schemas import (
    BoundedDate,
    DateRangeSchema,
    ServedBySchema,
    StrictBoolean,
    ident,
    text,
)
from backend.parking.models import AssignmentStatus, RosterStatus, SwapStatus

HH_MM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
MONTH = r"^20[0-9]{2}-(0[1-9]|1[0-2])$"


class ClockTime(ma.fields.String):
    """``"07:00"`` in and out: a time of day in the community's zone."""

    def __init__(self, **kwargs) -> None:
        metadata = {"pattern": HH_MM, "example": "07:00", **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else value.strftime("%H:%M")

    def _deserialize(self, value, attr, data, **kwargs):
        text_value = super()._deserialize(value, attr, data, **kwargs)
        if not re.fullmatch(HH_MM, text_value.strip()):
            raise ma.ValidationError("请使用 HH:MM 格式，如 07:00")
        return time.fromisoformat(text_value.strip())


class Month(ma.fields.String):
    """``"2026-12"``: a calendar month."""

    def __init__(self, **kwargs) -> None:
        metadata = {"pattern": MONTH, "example": "2026-12", **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text_value = super()._deserialize(value, attr, data, **kwargs).strip()
        if not re.fullmatch(MONTH, text_value):
            raise ma.ValidationError("请使用 YYYY-MM 格式，如 2026-12")
        return text_value


class Money(ma.fields.Decimal):
    """Yuan with at most two decimals, read exactly (never through a float)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(places=2, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        # Only the OpenAPI description is dumped with it: bounds must be JSON numbers.
        return None if value is None else float(value)


class ShiftInSchema(ma.Schema):
    name = text(20)
    start = ClockTime(required=True)
    end = ClockTime(required=True, metadata={"example": "15:00"})
    needed = ma.fields.Integer(strict=True, load_default=1,
                               validate=ma.validate.Range(min=1, max=20))

    @ma.validates_schema
    def check_length(self, data, **kwargs):
        if data.get("start") is not None and data.get("start") == data.get("end"):
            raise ma.ValidationError({"end": ["结束时间不能与开始时间相同"]})


class TemplatesInSchema(ma.Schema):
    shifts = ma.fields.List(ma.fields.Nested(ShiftInSchema), required=True,
                            validate=ma.validate.Length(min=1, max=12))
    points_per_shift = ma.fields.Integer(strict=True, load_default=None, allow_none=True,
                                         validate=ma.validate.Range(min=0, max=1000))


class ShiftSchema(ma.Schema):
    name = ma.fields.String(required=True)
    start = ClockTime(required=True)
    end = ClockTime(required=True)
    needed = ma.fields.Integer(required=True)


class TemplatesSchema(ma.Schema):
    team_id = ma.fields.Integer(required=True)
    points_per_shift = ma.fields.Integer(required=True)
    shifts = ma.fields.List(ma.fields.Nested(ShiftSchema), required=True)


class PreferencesSchema(ma.Schema):
    no_night = StrictBoolean(load_default=False,
                                 metadata={"description": "soft wish: no night shifts"})
    avoid_shifts = ma.fields.List(text(20), load_default=list,
                                  validate=ma.validate.Length(max=12),
                                  metadata={"description": "soft wish: shift names to avoid"})


class AvailabilityInSchema(ma.Schema):
    unavailable = ma.fields.List(BoundedDate(), load_default=list,
                                 validate=ma.validate.Length(max=366))
    max_shifts_per_week = ma.fields.Integer(strict=True, load_default=None, allow_none=True,
                                            validate=ma.validate.Range(min=0, max=21))
    preferences = ma.fields.Nested(PreferencesSchema, load_default=lambda: {
        "no_night": False, "avoid_shifts": []})


class AvailabilitySchema(ma.Schema):
    team_id = ma.fields.Integer(required=True)
    user_id = ma.fields.Integer(required=True)
    unavailable = ma.fields.List(ma.fields.String(), required=True)
    max_shifts_per_week = ma.fields.Integer(required=True, allow_none=True)
    preferences = ma.fields.Method("dump_preferences", required=True)

    def dump_preferences(self, row) -> dict:
        return {"no_night": bool(row.no_night), "avoid_shifts": list(row.avoid_shifts or [])}


class RosterInSchema(DateRangeSchema):
    """From and to, local dates."""


class AssignmentSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    roster_id = ma.fields.Integer(required=True)
    team_id = ma.fields.Integer(required=True)
    date = ma.fields.Date(required=True)
    shift = ma.fields.String(required=True)
    user_id = ma.fields.Integer(required=True, allow_none=True)
    starts_at = LocalDateTime(required=True)
    ends_at = LocalDateTime(required=True)
    status = ma.fields.Enum(AssignmentStatus, by_value=True, required=True)
    checked_in_at = LocalDateTime(required=True, allow_none=True)


class UnfilledSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    date = ma.fields.Date(required=True)
    shift = ma.fields.String(required=True)
    starts_at = LocalDateTime(required=True)
    ends_at = LocalDateTime(required=True)
    reasons = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(), required=True,
                             metadata={"description": "members kept off, per hard rule"})
    reason = ma.fields.String(required=True)


class FairnessSchema(ma.Schema):
    min_shifts = ma.fields.Integer(required=True)
    max_shifts = ma.fields.Integer(required=True)
    night_min = ma.fields.Integer(required=True)
    night_max = ma.fields.Integer(required=True)


class RosterSummarySchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    team_id = ma.fields.Integer(required=True)
    status = ma.fields.Enum(RosterStatus, by_value=True, required=True)
    first_day = ma.fields.Date(required=True, data_key="from")
    last_day = ma.fields.Date(required=True, data_key="to")
    created_at = LocalDateTime(required=True)
    published_at = LocalDateTime(required=True, allow_none=True)


class RosterSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    team_id = ma.fields.Integer(required=True)
    status = ma.fields.Enum(RosterStatus, by_value=True, required=True)
    first_day = ma.fields.Date(required=True, data_key="from", attribute="from")
    last_day = ma.fields.Date(required=True, data_key="to", attribute="to")
    assignments = ma.fields.List(ma.fields.Nested(AssignmentSchema), required=True)
    fairness = ma.fields.Nested(FairnessSchema, required=True)
    unfilled = ma.fields.List(ma.fields.Nested(UnfilledSchema), required=True)
    created_at = LocalDateTime(required=True)
    published_at = LocalDateTime(required=True, allow_none=True)


class MyShiftsArgsSchema(PageArgsSchema):
    first_day = BoundedDate(data_key="from")
    last_day = BoundedDate(data_key="to")


class SwapInSchema(ma.Schema):
    to_user_id = ident(required=True)


class SwapSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    assignment_id = ma.fields.Integer(required=True)
    team_id = ma.fields.Integer(required=True)
    from_user_id = ma.fields.Integer(required=True)
    to_user_id = ma.fields.Integer(required=True)
    status = ma.fields.Enum(SwapStatus, by_value=True, required=True)
    created_at = LocalDateTime(required=True)
    decided_at = LocalDateTime(required=True, allow_none=True)
    assignment = ma.fields.Nested(AssignmentSchema, required=True)


class AssignmentEditSchema(ma.Schema):
    user_id = ident(required=True, allow_none=True,
                    metadata={"description": "the member to put on the shift; null empties it"})


class LocationSchema(ma.Schema):
    """What ``wx.getLocation`` gives (WGS-84 degrees)."""

    latitude = ma.fields.Float(required=True, allow_nan=False,
                               validate=ma.validate.Range(min=-90, max=90))
    longitude = ma.fields.Float(required=True, allow_nan=False,
                                validate=ma.validate.Range(min=-180, max=180))
    accuracy = ma.fields.Float(allow_nan=False, validate=ma.validate.Range(min=0, max=100_000))


class CheckinInSchema(ma.Schema):
    code = text(200)
    location = ma.fields.Nested(LocationSchema)


class HandoverInSchema(ma.Schema):
    code = text(512, metadata={"description": "the incoming member's check-in code"})


class CheckinSchema(ma.Schema):
    result = ma.fields.String(required=True, metadata={"enum": ["ok", "already_checked_in"]})
    points = ma.fields.Integer(required=True, metadata={
        "description": "credited so far: duty points come with staff approval"})
    assignment = ma.fields.Nested(AssignmentSchema, required=True)


class PostCodeSchema(ma.Schema):
    code = ma.fields.String(required=True)


class PostInSchema(ma.Schema):
    latitude = ma.fields.Float(required=True, allow_nan=False,
                               validate=ma.validate.Range(min=-90, max=90))
    longitude = ma.fields.Float(required=True, allow_nan=False,
                                validate=ma.validate.Range(min=-180, max=180))
    radius_m = ma.fields.Integer(strict=True, load_default=100,
                                 validate=ma.validate.Range(min=10, max=2000))


class PostSchema(ma.Schema):
    team_id = ma.fields.Integer(required=True)
    latitude = ma.fields.Float(required=True, allow_none=True, attribute="post_latitude")
    longitude = ma.fields.Float(required=True, allow_none=True, attribute="post_longitude")
    radius_m = ma.fields.Integer(required=True, allow_none=True, attribute="post_radius_m")


class MonthInSchema(ma.Schema):
    month = Month(required=True)


class DutyShiftEntrySchema(AssignmentSchema):
    display_name = ma.fields.String(required=True)
    checkin_method = ma.fields.String(required=True, allow_none=True)
    confirmed_by = ma.fields.Integer(required=True, allow_none=True)
    points_per_shift = ma.fields.Integer(required=True, allow_none=True, metadata={
        "description": "the rate frozen when a leader signed the shift off"})
    points = ma.fields.Integer(required=True, allow_none=True)


class DutyShiftListArgsSchema(PageArgsSchema):
    status = ma.fields.Enum(AssignmentStatus, by_value=True)
    month = Month()


class ReviewedShiftSchema(ma.Schema):
    id = ident(required=True)
    points = ma.fields.Integer(strict=True, required=True,
                               validate=ma.validate.Range(min=0, max=100_000))


class DutyApproveInSchema(ma.Schema):
    ids = ma.fields.List(ident(), required=True, validate=ma.validate.Length(min=1, max=500))
    reviewed = ma.fields.List(ma.fields.Nested(ReviewedShiftSchema), load_default=list,
                              validate=ma.validate.Length(max=500))


MAX_FEE_YUAN = 3000


class FeeInSchema(ma.Schema):
    plate = text(12, metadata={"example": "京A12345"})
    period = Month(required=True)
    # A month's parking in an old estate is tens to a few hundred yuan.
    amount = Money(required=True, validate=ma.validate.Range(min=Decimal("0.01"),
                                                             max=Decimal(MAX_FEE_YUAN)))
    collected_by = ident(load_default=None, allow_none=True)


class FeeVoidInSchema(ma.Schema):
    reason = text(200)


class FeeSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    team_id = ma.fields.Integer(required=True)
    plate = ma.fields.String(required=True)
    period = ma.fields.String(required=True)
    amount = ma.fields.Method("dump_amount", required=True)
    collected_by = ma.fields.Integer(required=True)
    recorded_by = ma.fields.Integer(required=True)
    created_at = LocalDateTime(required=True)
    voids_id = ma.fields.Integer(required=True, allow_none=True,
                                 metadata={"description": "a void: the entry it cancels"})
    void_reason = ma.fields.String(required=True, allow_none=True)

    def dump_amount(self, fee) -> str:
        sign = "-" if fee.amount_fen < 0 else ""
        fen = abs(fee.amount_fen)
        return f"{sign}{fen // 100}.{fen % 100:02d}"


class FeeListArgsSchema(PageArgsSchema):
    period = Month()


class MonthArgsSchema(ma.Schema):
    month = Month(required=True)


class SubsidyItemSchema(ma.Schema):
    user_id = ma.fields.Integer(required=True)
    display_name = ma.fields.String(required=True)
    shifts = ma.fields.Integer(required=True)
    amount = ma.fields.Decimal(required=True, as_string=True, places=2)


class SubsidyVoidSchema(ma.Schema):
    fee_id = ma.fields.Integer(required=True)
    plate = ma.fields.String(required=True)
    amount = ma.fields.Decimal(required=True, as_string=True, places=2)
    reason = ma.fields.String(required=True)


class SubsidyReportSchema(ma.Schema):
    team_id = ma.fields.Integer(required=True)
    month = ma.fields.String(required=True)
    pool = ma.fields.Decimal(required=True, as_string=True, places=2)
    fees_recorded = ma.fields.Integer(required=True)
    voids = ma.fields.List(ma.fields.Nested(SubsidyVoidSchema), required=True)
    total_shifts = ma.fields.Integer(required=True)
    undistributed = ma.fields.Decimal(required=True, as_string=True, places=2)
    items = ma.fields.List(ma.fields.Nested(SubsidyItemSchema), required=True)
    served_by = ma.fields.Nested(ServedBySchema)  # with a replica configured


class TeammatesArgsSchema(PageArgsSchema):
    day = BoundedDate(data_key="date", required=True,
                      metadata={"description": "the day of the shift to swap"})


class TeammateSchema(ma.Schema):
    user_id = ma.fields.Integer(required=True)
    display_name = ma.fields.String(required=True, metadata={"description": "masked: 张*明"})
    free = ma.fields.Boolean(required=True)
    busy_reason = ma.fields.String(required=True, allow_none=True, metadata={
        "description": "on_shift (a shift that day), unavailable (marked off), or null"})
