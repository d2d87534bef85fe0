from __future__ import annotations

from flask import Response, jsonify, url_for
from flask_smorest import Blueprint

from backend.auth.services import current_user, current_user_id
from backend.checkin import attendance, certificates, codes, services
from backend.checkin.schemas import (
    ApproveInSchema,
    AttendanceEntrySchema,
    AttendanceListArgsSchema,
    CertificateCheckSchema,
    CertificateInSchema,
    CertificateSchema,
    CheckinCodeSchema,
    CorrectionInSchema,
    RecordArgsSchema,
    RejectInSchema,
    ScanAnswerSchema,
    ScanBatchAnswerSchema,
    ScanBatchInSchema,
    ScanInSchema,
    ScannerKitSchema,
    SelfCheckinInSchema,
    ServiceRecordSchema,
)
from backend.common import idempotency
from backend.common.api import refuses
from backend.common.clock import now
from backend.common.pagination import Listing, PageArgsSchema, paginated
from backend.communities.access import staff_only
from backend.refusals import (
    ACTIVITY_NOT_ENDED,
    ACTIVITY_NOT_PUBLISHED,
    ATTENDANCE_CHANGED,
    ATTENDANCE_LOCKED,
    ATTENDANCE_NOT_CONFIRMED,
    BAD_REQUEST,
    CHECKOUT_MISSING,
    FORBIDDEN,
    FOUR_EYES_REQUIRED,
    IDEMPOTENCY_KEY_REUSED,
    IDEMPOTENCY_REQUEST_IN_PROGRESS,
    INSUFFICIENT_POINTS,
    NOT_FOUND,
    PERIOD_CLOSED,
    RATE_LIMITED,
    SCAN_IN_PROGRESS,
    SELF_CHECKIN_NOT_ALLOWED,
    TIME_CONFLICT,
    UNAUTHENTICATED,
    UPLOAD_TOO_LATE,
    VALIDATION_ERROR,
)

blp = Blueprint("checkin", __name__, description="Check-in codes, scans, attendance, hours")


def _code_answer(code: codes.CheckinCode) -> dict:
    return {"code": code.text, "expires_at": code.expires_at,
            "refresh_in_s": code.refresh_in_s(now())}


def _png(code: codes.CheckinCode) -> Response:
    response = Response(codes.qr_png(code.text), mimetype="image/png")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Expires-At"] = code.expires_at.isoformat()
    return response


@blp.route("/me/checkin-code", methods=["GET"])
@blp.response(200, CheckinCodeSchema)
@refuses(UNAUTHENTICATED)
def my_checkin_code():
    """My current check-in code: show it as a QR, fetch again after ``refresh_in_s``."""
    return _code_answer(services.my_code(current_user()))


@blp.route("/me/checkin-code.png", methods=["GET"])
@blp.response(200, {"type": "string", "format": "binary"}, content_type="image/png")
@refuses(UNAUTHENTICATED)
def my_checkin_code_png():
    """My current check-in code as a PNG QR image."""
    return _png(services.my_code(current_user()))


@blp.route("/activities/<id:aid>/poster-code", methods=["GET"])
@blp.response(200, CheckinCodeSchema)
@refuses(FORBIDDEN, NOT_FOUND, SELF_CHECKIN_NOT_ALLOWED, UNAUTHENTICATED)
def poster_code(aid):
    """The activity's rotating self-check-in code (leader/staff), for a screen at the venue."""
    return _code_answer(services.poster_code(current_user(), aid))


@blp.route("/activities/<id:aid>/poster-code.png", methods=["GET"])
@blp.response(200, {"type": "string", "format": "binary"}, content_type="image/png")
@refuses(FORBIDDEN, NOT_FOUND, SELF_CHECKIN_NOT_ALLOWED, UNAUTHENTICATED)
def poster_code_png(aid):
    return _png(services.poster_code(current_user(), aid))


# An instance, not the class: webargs would build a schema per request on the door's hot path.
# The answers are dumped through ScanAnswerSchema by the use case, once, when they are made
# (each is stored as sent, and a replay sends it again): the views only serialise them.
@blp.route("/activities/<id:aid>/scans", methods=["POST"])
@idempotency.natural_key  # the scan_id
@blp.arguments(ScanInSchema())
@blp.response(200, ScanAnswerSchema)
@refuses(
    ACTIVITY_NOT_PUBLISHED,
    BAD_REQUEST,
    FORBIDDEN,
    IDEMPOTENCY_KEY_REUSED,
    IDEMPOTENCY_REQUEST_IN_PROGRESS,
    NOT_FOUND,
    RATE_LIMITED,
    SCAN_IN_PROGRESS,
    UNAUTHENTICATED,
    UPLOAD_TOO_LATE,
    VALIDATION_ERROR,
)
def scan(data, aid):
    """Record one scan at the door (the team's leader, or staff)."""
    return jsonify(services.scan(current_user_id(), aid, data))


@blp.route("/activities/<id:aid>/scans/batch", methods=["POST"])
@idempotency.natural_key  # the scan_id
@blp.arguments(ScanBatchInSchema)
@blp.response(200, ScanBatchAnswerSchema)
@refuses(
    ACTIVITY_NOT_PUBLISHED,
    BAD_REQUEST,
    FORBIDDEN,
    IDEMPOTENCY_KEY_REUSED,
    IDEMPOTENCY_REQUEST_IN_PROGRESS,
    NOT_FOUND,
    RATE_LIMITED,
    SCAN_IN_PROGRESS,
    UNAUTHENTICATED,
    UPLOAD_TOO_LATE,
    VALIDATION_ERROR,
)
def scan_batch(data, aid):
    """Upload scans made offline; one answer per scan, in the order sent."""
    return jsonify({"results": services.scan_batch(current_user_id(), aid, data["scans"])})


@blp.route("/me/checkins", methods=["POST"])
@idempotency.natural_key  # the scan_id
@blp.arguments(SelfCheckinInSchema)
@blp.response(200, ScanAnswerSchema)
@refuses(
    ACTIVITY_NOT_PUBLISHED,
    BAD_REQUEST,
    IDEMPOTENCY_KEY_REUSED,
    IDEMPOTENCY_REQUEST_IN_PROGRESS,
    NOT_FOUND,
    RATE_LIMITED,
    SCAN_IN_PROGRESS,
    SELF_CHECKIN_NOT_ALLOWED,
    UNAUTHENTICATED,
    VALIDATION_ERROR,
)
def self_checkin(data):
    """Check myself in or out by scanning the activity's poster code."""
    return jsonify(services.self_checkin(current_user(), data))


@blp.route("/activities/<id:aid>/scanner-kit", methods=["GET"])
@blp.response(200, ScannerKitSchema)
@refuses(FORBIDDEN, NOT_FOUND, UNAUTHENTICATED)
def scanner_kit(aid):
    """The public key and the signed-up residents, for scanning with no network."""
    return services.scanner_kit(current_user(), aid)


@blp.route("/activities/<id:aid>/attendances", methods=["GET"])
@blp.arguments(PageArgsSchema, location="query")
@paginated(blp, AttendanceEntrySchema)
@refuses(FORBIDDEN, NOT_FOUND, UNAUTHENTICATED)
def activity_attendances(args, aid):
    viewer = current_user()
    return Listing(attendance.activity_attendances(viewer, aid),
                   lambda rows: attendance.with_display_names(viewer, rows))


@blp.route("/communities/<id:cid>/attendances", methods=["GET"])
@blp.arguments(AttendanceListArgsSchema, location="query")
@paginated(blp, AttendanceEntrySchema)
@refuses(FORBIDDEN, UNAUTHENTICATED)
def community_attendances(args, cid):
    """Staff's list, e.g. ``?status=confirmed`` for hours waiting for approval."""
    viewer = current_user()
    status = args.pop("status", None)
    return Listing(attendance.community_attendances(viewer, cid, status),
                   lambda rows: attendance.with_display_names(viewer, rows))


@blp.route("/attendances/<id:att_id>", methods=["PATCH"])
@blp.arguments(CorrectionInSchema)
@blp.response(200, AttendanceEntrySchema)
@refuses(ATTENDANCE_LOCKED, BAD_REQUEST, FORBIDDEN, FOUR_EYES_REQUIRED, NOT_FOUND, UNAUTHENTICATED)
def correct_attendance(data, att_id):
    """Correct the minutes (leader/staff), with a reason; kept with who and when."""
    viewer = current_user()
    row = attendance.correct(viewer, att_id, data["minutes"], data["reason"])
    return attendance.with_display_names(viewer, [row])[0]


@blp.route("/activities/<id:aid>/attendances/confirm", methods=["POST"])
@paginated(blp, AttendanceEntrySchema)
@refuses(
    ACTIVITY_NOT_ENDED,
    BAD_REQUEST,
    CHECKOUT_MISSING,
    FORBIDDEN,
    IDEMPOTENCY_KEY_REUSED,
    IDEMPOTENCY_REQUEST_IN_PROGRESS,
    NOT_FOUND,
    UNAUTHENTICATED,
    VALIDATION_ERROR,
)
def confirm_attendances(aid):
    """The team's leader signs off the activity's hours."""
    viewer = current_user()
    return _listed(viewer, attendance.confirm(viewer, aid))


@blp.route("/attendances/approve", methods=["POST"])
@blp.arguments(ApproveInSchema)
@paginated(blp, AttendanceEntrySchema)
@refuses(
    ATTENDANCE_CHANGED,
    ATTENDANCE_NOT_CONFIRMED,
    BAD_REQUEST,
    FORBIDDEN,
    FOUR_EYES_REQUIRED,
    IDEMPOTENCY_KEY_REUSED,
    IDEMPOTENCY_REQUEST_IN_PROGRESS,
    INSUFFICIENT_POINTS,
    NOT_FOUND,
    PERIOD_CLOSED,
    TIME_CONFLICT,
    UNAUTHENTICATED,
    VALIDATION_ERROR,
)
def approve_attendances(data):
    """Approve confirmed hours (staff); each approval credits service points once."""
    viewer = current_user()
    return _listed(viewer, attendance.approve(viewer, data["ids"], data["reviewed"]))


@blp.route("/attendances/reject", methods=["POST"])
@blp.arguments(RejectInSchema)
@paginated(blp, AttendanceEntrySchema)
@refuses(
    ATTENDANCE_LOCKED,
    BAD_REQUEST,
    FORBIDDEN,
    IDEMPOTENCY_KEY_REUSED,
    IDEMPOTENCY_REQUEST_IN_PROGRESS,
    NOT_FOUND,
    UNAUTHENTICATED,
    VALIDATION_ERROR,
)
def reject_attendances(data):
    viewer = current_user()
    return _listed(viewer, attendance.reject(viewer, data["ids"], data["reason"]))


def _listed(viewer, rows) -> dict:
    items = attendance.with_display_names(viewer, rows)
    return {"items": items, "page": 1, "per_page": max(len(items), 1), "total": len(items)}


@blp.route("/me/volunteer-record", methods=["GET"])
@blp.arguments(RecordArgsSchema, location="query")
@blp.response(200, ServiceRecordSchema)
@refuses(UNAUTHENTICATED)
def my_volunteer_record(args):
    """All my approved service: activity, team, date, hours, approver."""
    return certificates.my_record(current_user(), args.get("from_"), args.get("to"))


@blp.route("/communities/<id:cid>/certificates", methods=["POST"])
@staff_only
@blp.arguments(CertificateInSchema)
@blp.response(201, CertificateSchema)
@refuses(
    BAD_REQUEST,
    FORBIDDEN,
    IDEMPOTENCY_KEY_REUSED,
    IDEMPOTENCY_REQUEST_IN_PROGRESS,
    NOT_FOUND,
    UNAUTHENTICATED,
    VALIDATION_ERROR,
)
def issue_certificate(data, cid):
    """Issue a volunteer service certificate (志愿服务证明) for a resident (staff)."""
    certificate = certificates.issue(current_user(), cid, data["user_id"], data.get("from_"),
                                     data.get("to"))
    return _certificate_answer(certificate)


@blp.route("/certificates/<id:cert_id>", methods=["GET"])
@blp.response(200, CertificateSchema)
@refuses(NOT_FOUND, UNAUTHENTICATED)
def get_certificate(cert_id):
    return _certificate_answer(certificates.get_for_viewer(current_user(), cert_id))


@blp.route("/certificates/<id:cert_id>.pdf", methods=["GET"])
@blp.response(200, {"type": "string", "format": "binary"}, content_type="application/pdf")
@refuses(NOT_FOUND, UNAUTHENTICATED)
def certificate_pdf(cert_id):
    """The certificate as a PDF (the resident, or staff of the community)."""
    certificate = certificates.get_for_viewer(current_user(), cert_id)
    body = certificates.pdf(certificate, _verify_url(certificate.verification_code))
    response = Response(body, mimetype="application/pdf")
    response.headers["Content-Disposition"] = (
        f'inline; filename="certificate-{certificate.id}.pdf"')
    return response


@blp.route("/certificates/verify/<verification_code:code>", methods=["GET"])
@blp.response(200, CertificateCheckSchema)
@refuses()
def verify_certificate(code):
    """Public (no login): check a certificate by its verification code."""
    return certificates.check(code)


def _verify_url(code: str) -> str:
    return url_for("checkin.verify_certificate", code=code, _external=True)


def _certificate_answer(certificate) -> dict:
    return {
        "id": certificate.id, "verification_code": certificate.verification_code,
        "verify_url": _verify_url(certificate.verification_code),
        "pdf_url": url_for("checkin.certificate_pdf", cert_id=certificate.id, _external=True),
        "issued_at": certificate.issued_at, "content": certificate.content,
    }
