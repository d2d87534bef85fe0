from __future__ import annotations

import marshmallow as ma

from backend.checkin.models import AttendanceStatus, Direction, ScanResult
from backend.common.clock import LocalDateTime
from backend.common.pagination import PageArgsSchema
from backend.common.schemas import ident, text

MAX_BATCH = 500


def scan_id_field() -> ma.fields.String:
    """The device's id for a scan (a UUID in practice)."""
    return ma.fields.String(required=True, validate=ma.validate.Regexp(
        r"^[A-Za-z0-9_.:-]{1,64}$", error="扫码编号只能包含字母、数字和 _.:-，最长64位"))


class CheckinCodeSchema(ma.Schema):
    code = ma.fields.String(required=True)
    expires_at = LocalDateTime(required=True)
    refresh_in_s = ma.fields.Integer(required=True)


class ScanInSchema(ma.Schema):
    code = text(512)
    direction = ma.fields.Enum(Direction, by_value=True, required=True)
    scan_id = scan_id_field()
    scanned_at = LocalDateTime(metadata={"description": "when the scan was made (offline)"})
    device = text(64, required=False)


class ScanBatchInSchema(ma.Schema):
    scans = ma.fields.List(ma.fields.Nested(ScanInSchema), required=True,
                           validate=ma.validate.Length(min=1, max=MAX_BATCH))


class SelfCheckinInSchema(ma.Schema):
    code = text(512)
    direction = ma.fields.Enum(Direction, by_value=True, required=True)
    scan_id = scan_id_field()


class AttendanceSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    activity_id = ma.fields.Integer(required=True)
    user_id = ma.fields.Integer(required=True)
    checked_in_at = LocalDateTime(required=True, allow_none=True)
    checked_out_at = LocalDateTime(required=True, allow_none=True)
    minutes = ma.fields.Integer(required=True)
    served_minutes = ma.fields.Integer(required=True)
    corrected_minutes = ma.fields.Integer(required=True, allow_none=True)
    status = ma.fields.Enum(AttendanceStatus, by_value=True, required=True)
    walk_in = ma.fields.Boolean(required=True)
    points = ma.fields.Integer(required=True, allow_none=True)


class AttendanceEntrySchema(AttendanceSchema):
    display_name = ma.fields.String(required=True)
    confirmed_by = ma.fields.Integer(required=True, allow_none=True)
    points_per_hour = ma.fields.Integer(required=True, allow_none=True, metadata={
        "description": "the rate frozen when the leader confirmed (null while open)"})
    points_due = ma.fields.Integer(required=True, allow_none=True, metadata={
        "description": "what approval credits before the daily cap"})


class ScanResidentSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    display_name = ma.fields.String(required=True)


class ScanConflictSchema(ma.Schema):
    activity_id = ma.fields.Integer(required=True)
    title = ma.fields.String(required=True, allow_none=True)


class ScanAnswerSchema(ma.Schema):
    result = ma.fields.Enum(ScanResult, by_value=True, required=True)
    attendance = ma.fields.Nested(AttendanceSchema, required=True, allow_none=True)
    resident = ma.fields.Nested(ScanResidentSchema, required=True, allow_none=True)
    conflict = ma.fields.Nested(ScanConflictSchema, metadata={
        "description": "with time_conflict: the overlapping activity checked in to"})


class ScanBatchAnswerSchema(ma.Schema):
    results = ma.fields.List(ma.fields.Nested(ScanAnswerSchema), required=True)


class ScannerKitSchema(ma.Schema):
    activity_id = ma.fields.Integer(required=True)
    algorithm = ma.fields.String(required=True)
    public_key = ma.fields.String(required=True, metadata={"description": "raw key, base64"})
    code_format = ma.fields.String(required=True)
    code_step_s = ma.fields.Integer(required=True)
    window_opens_at = LocalDateTime(required=True)
    window_closes_at = LocalDateTime(required=True)
    walk_ins_allowed = ma.fields.Boolean(required=True)
    residents = ma.fields.List(ma.fields.Nested(ScanResidentSchema), required=True)
    generated_at = LocalDateTime(required=True)


class CorrectionInSchema(ma.Schema):
    minutes = ma.fields.Integer(strict=True, required=True,
                                validate=ma.validate.Range(min=0, max=24 * 60))
    reason = text(200)


class ReviewedRowSchema(ma.Schema):
    """What the staff page showed for one row when the clerk decided."""

    id = ident(required=True)
    minutes = ma.fields.Integer(strict=True, required=True,
                                validate=ma.validate.Range(min=0, max=100_000))
    points = ma.fields.Integer(strict=True, required=True,
                               validate=ma.validate.Range(min=0, max=10_000_000))


class IdsInSchema(ma.Schema):
    ids = ma.fields.List(ident(), required=True, validate=ma.validate.Length(min=1, max=500))


class ApproveInSchema(IdsInSchema):
    reviewed = ma.fields.List(ma.fields.Nested(ReviewedRowSchema), load_default=list,
                              validate=ma.validate.Length(max=500), metadata={
        "description": "minutes and points as displayed; a row that differs now answers "
                       "409 attendance_changed and nothing is credited"})


class RejectInSchema(IdsInSchema):
    reason = text(200)


class AttendanceListArgsSchema(PageArgsSchema):
    status = ma.fields.Enum(AttendanceStatus, by_value=True)


class RecordArgsSchema(ma.Schema):
    from_ = LocalDateTime(data_key="from")
    to = LocalDateTime()


class ServiceRecordEntrySchema(ma.Schema):
    attendance_id = ma.fields.Integer(required=True)
    activity_id = ma.fields.Integer(required=True)
    activity = ma.fields.String(required=True)
    team = ma.fields.String(required=True)
    date = ma.fields.Date(required=True)
    starts_at = LocalDateTime(required=True)
    ends_at = LocalDateTime(required=True)
    minutes = ma.fields.Integer(required=True)
    hours = ma.fields.Float(required=True)
    approver = ma.fields.String(required=True)
    approved_at = LocalDateTime(required=True)
    points = ma.fields.Integer(required=True, allow_none=True)


class ServiceRecordSchema(ma.Schema):
    user_id = ma.fields.Integer(required=True)
    total_minutes = ma.fields.Integer(required=True)
    total_hours = ma.fields.Float(required=True)
    items = ma.fields.List(ma.fields.Nested(ServiceRecordEntrySchema), required=True)


class CertificateInSchema(ma.Schema):
    user_id = ident(required=True)
    from_ = LocalDateTime(data_key="from")
    to = LocalDateTime()


class CertificateSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    verification_code = ma.fields.String(required=True)
    verify_url = ma.fields.String(required=True)
    pdf_url = ma.fields.String(required=True)
    issued_at = LocalDateTime(required=True)
    content = ma.fields.Dict(required=True)


class PeriodSchema(ma.Schema):
    from_ = ma.fields.String(required=True, allow_none=True, data_key="from", attribute="from")
    to = ma.fields.String(required=True, allow_none=True)


class PublicServiceSchema(ma.Schema):
    date = ma.fields.String(required=True)
    minutes = ma.fields.Integer(required=True)
    hours = ma.fields.Float(required=True)


class PublicCertificateSchema(ma.Schema):
    """What the public check shows: enough to compare with the paper, nothing more."""

    title = ma.fields.String(required=True)
    volunteer_masked = ma.fields.String(required=True)
    community = ma.fields.String(required=True)
    street = ma.fields.String(required=True)
    period = ma.fields.Nested(PeriodSchema, required=True)
    total_minutes = ma.fields.Integer(required=True)
    total_hours = ma.fields.Float(required=True)
    issued_at = ma.fields.String(required=True)
    items = ma.fields.List(ma.fields.Nested(PublicServiceSchema), required=True)


class CertificateCheckSchema(ma.Schema):
    valid = ma.fields.Boolean(required=True)
    verification_code = ma.fields.String(required=True)
    content = ma.fields.Nested(PublicCertificateSchema, required=True, allow_none=True)
    detail = ma.fields.String(required=True)
