from __future__ import annotations

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from backend.auth.services import current_user
from backend.common.api import refuses
from backend.common.pagination import Listing, PageArgsSchema, paginated
from backend.common.replica import REPORT_HEADERS
from backend.communities.access import staff_only
from backend.parking import duty, duty_approval, fees, services, swaps
from backend.parking.schemas import (
    AssignmentEditSchema,
    AssignmentSchema,
    AvailabilityInSchema,
    AvailabilitySchema,
    CheckinInSchema,
    CheckinSchema,
    DutyApproveInSchema,
    DutyShiftEntrySchema,
    DutyShiftListArgsSchema,
    FeeInSchema,
    FeeListArgsSchema,
    FeeSchema,
    FeeVoidInSchema,
    HandoverInSchema,
    MonthArgsSchema,
    MonthInSchema,
    MyShiftsArgsSchema,
    PostCodeSchema,
    PostInSchema,
    PostSchema,
    RosterInSchema,
    RosterSchema,
    RosterSummarySchema,
    SubsidyReportSchema,
    SwapInSchema,
    SwapSchema,
    TeammatesArgsSchema,
    TeammateSchema,
    TemplatesInSchema,
    TemplatesSchema,
)
from backend.refusals import (
    AWAY_FROM_POST,
    BAD_REQUEST,
    DUPLICATE_FEE,
    EXPIRED_CODE,
    FEE_ALREADY_VOID,
    FEE_IS_VOID,
    FORBIDDEN,
    FOUR_EYES_REQUIRED,
    HANDOVER_NOT_ALLOWED,
    IDEMPOTENCY_KEY_REUSED,
    IDEMPOTENCY_REQUEST_IN_PROGRESS,
    INSUFFICIENT_POINTS,
    INVALID_CODE,
    LOCATION_REQUIRED,
    NO_SHIFT_TEMPLATES,
    NOT_A_TEAM_MEMBER,
    NOT_FOUND,
    NOT_ON_DUTY,
    NOT_PARKING_TEAM,
    OUTSIDE_WINDOW,
    PERIOD_CLOSED,
    POST_LOCATION_NOT_SET,
    RATE_REQUIRES_STAFF,
    ROSTER_NOT_PUBLISHED,
    ROSTER_OVERLAPS,
    ROSTER_PUBLISHED,
    SHIFT_CHANGED,
    SHIFT_NOT_CONFIRMED,
    SHIFT_STARTED,
    SWAP_ALREADY_REQUESTED,
    SWAP_CONFLICT,
    SWAP_NOT_ACCEPTED,
    SWAP_NOT_PENDING,
    SWAP_STALE,
    TIME_CONFLICT,
    UNAUTHENTICATED,
    VALIDATION_ERROR,
)

blp = Blueprint("parking", __name__, description="Parking duty: shifts, rosters, swaps, fees")


@blp.route("/teams/<id:tid>/shift-templates")
class ShiftTemplates(MethodView):
    @blp.response(200, TemplatesSchema)
    @refuses(FORBIDDEN, NOT_FOUND, NOT_PARKING_TEAM, UNAUTHENTICATED)
    def get(self, tid):
        """The team's shifts and points per completed shift (members, leader, staff)."""
        return services.get_templates(current_user(), tid)

    @blp.arguments(TemplatesInSchema)
    @blp.response(200, TemplatesSchema)
    @refuses(
        BAD_REQUEST,
        FORBIDDEN,
        NOT_FOUND,
        NOT_PARKING_TEAM,
        RATE_REQUIRES_STAFF,
        UNAUTHENTICATED,
    )
    def put(self, data, tid):
        """Replace the team's shifts (leader/staff); a shift may cross midnight."""
        return services.replace_templates(current_user(), tid, data["shifts"],
                                          data["points_per_shift"])


@blp.route("/teams/<id:tid>/members/<id:uid>/availability")
class MemberAvailability(MethodView):
    @blp.response(200, AvailabilitySchema)
    @refuses(FORBIDDEN, NOT_FOUND, NOT_PARKING_TEAM, UNAUTHENTICATED)
    def get(self, tid, uid):
        return services.get_availability(current_user(), tid, uid)

    @blp.arguments(AvailabilityInSchema)
    @blp.response(200, AvailabilitySchema)
    @refuses(BAD_REQUEST, FORBIDDEN, NOT_FOUND, NOT_PARKING_TEAM, UNAUTHENTICATED)
    def put(self, data, tid, uid):
        """Unavailable days, weekly maximum (hard) and preferences (soft): the member or
        the leader."""
        return services.set_availability(current_user(), tid, uid, data)


@blp.route("/teams/<id:tid>/rosters")
class TeamRosters(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @paginated(blp, RosterSummarySchema)
    @refuses(FORBIDDEN, NOT_FOUND, NOT_PARKING_TEAM, UNAUTHENTICATED)
    def get(self, args, tid):
        return services.team_rosters(current_user(), tid)

    @blp.arguments(RosterInSchema)
    @blp.response(201, RosterSchema)
    @refuses(
        BAD_REQUEST,
        FORBIDDEN,
        IDEMPOTENCY_KEY_REUSED,
        IDEMPOTENCY_REQUEST_IN_PROGRESS,
        NOT_FOUND,
        NOT_PARKING_TEAM,
        NO_SHIFT_TEMPLATES,
        UNAUTHENTICATED,
        VALIDATION_ERROR,
    )
    def post(self, data, tid):
        """Generate a draft roster over the days (leader/staff)."""
        roster = services.create_roster(current_user(), tid, data["first_day"],
                                        data["last_day"])
        return services.roster_view(roster)


@blp.route("/rosters/<id:rid>", methods=["GET"])
@blp.response(200, RosterSchema)
@refuses(FORBIDDEN, NOT_FOUND, UNAUTHENTICATED)
def get_roster(rid):
    return services.roster_view(services.visible_roster(current_user(), rid))


@blp.route("/rosters/<id:rid>/publish", methods=["POST"])
@blp.response(200, RosterSchema)
@refuses(
    BAD_REQUEST,
    FORBIDDEN,
    IDEMPOTENCY_KEY_REUSED,
    IDEMPOTENCY_REQUEST_IN_PROGRESS,
    NOT_FOUND,
    ROSTER_OVERLAPS,
    ROSTER_PUBLISHED,
    UNAUTHENTICATED,
    VALIDATION_ERROR,
)
def publish_roster(rid):
    """Publish the roster; every member on it is notified."""
    return services.roster_view(services.publish_roster(current_user(), rid))


@blp.route("/me/shifts", methods=["GET"])
@blp.arguments(MyShiftsArgsSchema, location="query")
@paginated(blp, AssignmentSchema)
@refuses(UNAUTHENTICATED)
def my_shifts(args):
    """My shifts in published rosters, soonest first (from today unless ``from`` is given)."""
    query = services.my_shifts(current_user(), args.pop("first_day", None),
                               args.pop("last_day", None))
    return query


@blp.route("/assignments/<id:aid>", methods=["PATCH"])
@blp.arguments(AssignmentEditSchema)
@blp.response(200, AssignmentSchema)
@refuses(
    BAD_REQUEST,
    FORBIDDEN,
    NOT_A_TEAM_MEMBER,
    NOT_FOUND,
    SHIFT_STARTED,
    SWAP_CONFLICT,
    UNAUTHENTICATED,
)
def edit_assignment(data, aid):
    """The leader moves a shift to another member (or empties it) — same hard rules."""
    return swaps.edit_assignment(current_user(), aid, data["user_id"])


@blp.route("/assignments/<id:aid>/swap-requests", methods=["POST"])
@blp.arguments(SwapInSchema)
@blp.response(201, SwapSchema)
@refuses(
    BAD_REQUEST,
    FORBIDDEN,
    IDEMPOTENCY_KEY_REUSED,
    IDEMPOTENCY_REQUEST_IN_PROGRESS,
    NOT_A_TEAM_MEMBER,
    NOT_FOUND,
    ROSTER_NOT_PUBLISHED,
    SHIFT_STARTED,
    SWAP_ALREADY_REQUESTED,
    SWAP_CONFLICT,
    UNAUTHENTICATED,
    VALIDATION_ERROR,
)
def request_swap(data, aid):
    """Ask another member to take my shift (they accept, then the leader approves)."""
    return swaps.request_swap(current_user(), aid, data["to_user_id"])


@blp.route("/me/swap-requests", methods=["GET"])
@blp.arguments(PageArgsSchema, location="query")
@paginated(blp, SwapSchema)
@refuses(UNAUTHENTICATED)
def my_swap_requests(args):
    return swaps.my_swaps(current_user())


@blp.route("/swap-requests/<id:sid>/accept", methods=["POST"])
@blp.response(200, SwapSchema)
@refuses(
    BAD_REQUEST,
    FORBIDDEN,
    IDEMPOTENCY_KEY_REUSED,
    IDEMPOTENCY_REQUEST_IN_PROGRESS,
    NOT_A_TEAM_MEMBER,
    NOT_FOUND,
    SHIFT_STARTED,
    SWAP_CONFLICT,
    SWAP_NOT_PENDING,
    SWAP_STALE,
    UNAUTHENTICATED,
    VALIDATION_ERROR,
)
def accept_swap(sid):
    return swaps.accept_swap(current_user(), sid)


@blp.route("/swap-requests/<id:sid>/approve", methods=["POST"])
@blp.response(200, SwapSchema)
@refuses(
    BAD_REQUEST,
    FORBIDDEN,
    IDEMPOTENCY_KEY_REUSED,
    IDEMPOTENCY_REQUEST_IN_PROGRESS,
    NOT_A_TEAM_MEMBER,
    NOT_FOUND,
    SHIFT_STARTED,
    SWAP_CONFLICT,
    SWAP_NOT_ACCEPTED,
    SWAP_STALE,
    UNAUTHENTICATED,
    VALIDATION_ERROR,
)
def approve_swap(sid):
    """The leader approves: the shift moves to the other member."""
    return swaps.approve_swap(current_user(), sid)


@blp.route("/swap-requests/<id:sid>/decline", methods=["POST"])
@blp.response(200, SwapSchema)
@refuses(
    BAD_REQUEST,
    FORBIDDEN,
    IDEMPOTENCY_KEY_REUSED,
    IDEMPOTENCY_REQUEST_IN_PROGRESS,
    NOT_FOUND,
    SWAP_NOT_PENDING,
    UNAUTHENTICATED,
    VALIDATION_ERROR,
)
def decline_swap(sid):
    """The other member declines, the requester withdraws, or the leader refuses."""
    return swaps.decline_swap(current_user(), sid)


@blp.route("/teams/<id:tid>/post-code", methods=["GET"])
@blp.response(200, PostCodeSchema)
@refuses(FORBIDDEN, NOT_FOUND, NOT_PARKING_TEAM, UNAUTHENTICATED)
def post_code(tid):
    """The text of the team's printed post code (leader/staff)."""
    return {"code": duty.post_code(current_user(), tid)}


@blp.route("/teams/<id:tid>/post-code.png", methods=["GET"])
@blp.response(200, content_type="image/png", description="the post code as a QR image")
@refuses(FORBIDDEN, NOT_FOUND, NOT_PARKING_TEAM, UNAUTHENTICATED)
def post_code_png(tid):
    return Response(duty.post_code_png(current_user(), tid), mimetype="image/png")


@blp.route("/teams/<id:tid>/post-code/rotate", methods=["POST"])
@blp.response(200, PostCodeSchema)
@refuses(
    BAD_REQUEST,
    FORBIDDEN,
    IDEMPOTENCY_KEY_REUSED,
    IDEMPOTENCY_REQUEST_IN_PROGRESS,
    NOT_FOUND,
    NOT_PARKING_TEAM,
    UNAUTHENTICATED,
    VALIDATION_ERROR,
)
def rotate_post_code(tid):
    """Void every printed copy of the post code and return the new one (leader/staff)."""
    return {"code": duty.rotate_post_code(current_user(), tid)}


@blp.route("/teams/<id:tid>/post", methods=["PUT"])
@blp.arguments(PostInSchema)
@blp.response(200, PostSchema)
@refuses(BAD_REQUEST, FORBIDDEN, NOT_FOUND, NOT_PARKING_TEAM, UNAUTHENTICATED)
def set_post(data, tid):
    """Where the post stands and how near a phone must be to check in (leader/staff)."""
    return duty.set_post(current_user(), tid, data)


@blp.route("/duty/checkins", methods=["POST"])
@blp.arguments(CheckinInSchema)
@blp.response(200, CheckinSchema)
@refuses(
    AWAY_FROM_POST,
    BAD_REQUEST,
    IDEMPOTENCY_KEY_REUSED,
    IDEMPOTENCY_REQUEST_IN_PROGRESS,
    INVALID_CODE,
    LOCATION_REQUIRED,
    NOT_ON_DUTY,
    OUTSIDE_WINDOW,
    POST_LOCATION_NOT_SET,
    UNAUTHENTICATED,
    VALIDATION_ERROR,
)
def duty_checkin(data):
    """The member on duty scans the post code, at the post, inside the shift window."""
    return duty.check_in(current_user(), data["code"], data.get("location"))


@blp.route("/duty/handovers", methods=["POST"])
@blp.arguments(HandoverInSchema)
@blp.response(200, CheckinSchema)
@refuses(
    BAD_REQUEST,
    EXPIRED_CODE,
    HANDOVER_NOT_ALLOWED,
    IDEMPOTENCY_KEY_REUSED,
    IDEMPOTENCY_REQUEST_IN_PROGRESS,
    INVALID_CODE,
    NOT_ON_DUTY,
    OUTSIDE_WINDOW,
    UNAUTHENTICATED,
    VALIDATION_ERROR,
)
def duty_handover(data):
    """The member going off duty scans the incoming member's check-in code (交接班)."""
    return duty.hand_over(current_user(), data["code"])


@blp.route("/teams/<id:tid>/duty/confirm", methods=["POST"])
@blp.arguments(MonthInSchema)
@paginated(blp, DutyShiftEntrySchema)
@refuses(
    BAD_REQUEST,
    FORBIDDEN,
    IDEMPOTENCY_KEY_REUSED,
    IDEMPOTENCY_REQUEST_IN_PROGRESS,
    NOT_FOUND,
    NOT_PARKING_TEAM,
    UNAUTHENTICATED,
    VALIDATION_ERROR,
)
def confirm_duty(data, tid):
    """Sign off the team's completed shifts of a month (a leader, or staff)."""
    viewer = current_user()
    return _listed(viewer, duty_approval.confirm_month(viewer, tid, data["month"]))


@blp.route("/communities/<id:cid>/duty/shifts", methods=["GET"])
@staff_only
@blp.arguments(DutyShiftListArgsSchema, location="query")
@paginated(blp, DutyShiftEntrySchema)
@refuses(FORBIDDEN, NOT_FOUND, UNAUTHENTICATED)
def served_shifts(args, cid):
    """Staff's list of served shifts, e.g. ``?status=confirmed`` waiting for approval."""
    viewer = current_user()
    query = duty_approval.served_shifts(viewer, cid, args.pop("status", None),
                                        args.pop("month", None))
    return Listing(query, lambda rows: duty_approval.with_display_names(viewer, rows))


@blp.route("/duty/approve", methods=["POST"])
@blp.arguments(DutyApproveInSchema)
@paginated(blp, DutyShiftEntrySchema)
@refuses(
    BAD_REQUEST,
    FORBIDDEN,
    FOUR_EYES_REQUIRED,
    IDEMPOTENCY_KEY_REUSED,
    IDEMPOTENCY_REQUEST_IN_PROGRESS,
    INSUFFICIENT_POINTS,
    NOT_FOUND,
    PERIOD_CLOSED,
    SHIFT_CHANGED,
    SHIFT_NOT_CONFIRMED,
    SWAP_NOT_ACCEPTED,
    TIME_CONFLICT,
    UNAUTHENTICATED,
    VALIDATION_ERROR,
)
def approve_duty(data):
    """Approve signed-off shifts (staff, not the one who signed off): credits duty points."""
    viewer = current_user()
    return _listed(viewer, duty_approval.approve_shifts(viewer, data["ids"], data["reviewed"]))


def _listed(viewer, rows) -> dict:
    items = duty_approval.with_display_names(viewer, rows)
    return {"items": items, "page": 1, "per_page": max(len(items), 1), "total": len(items)}


@blp.route("/teams/<id:tid>/fees")
class TeamFees(MethodView):
    @blp.arguments(FeeListArgsSchema, location="query")
    @paginated(blp, FeeSchema)
    @refuses(FORBIDDEN, NOT_FOUND, NOT_PARKING_TEAM, UNAUTHENTICATED)
    def get(self, args, tid):
        return fees.team_fees(current_user(), tid, args.pop("period", None))

    @blp.arguments(FeeInSchema)
    @blp.response(201, FeeSchema)
    @refuses(
        BAD_REQUEST,
        DUPLICATE_FEE,
        FORBIDDEN,
        IDEMPOTENCY_KEY_REUSED,
        IDEMPOTENCY_REQUEST_IN_PROGRESS,
        NOT_A_TEAM_MEMBER,
        NOT_FOUND,
        NOT_PARKING_TEAM,
        UNAUTHENTICATED,
        VALIDATION_ERROR,
    )
    def post(self, data, tid):
        """Record a fee collected from a car owner (leader/staff)."""
        return fees.record_fee(current_user(), tid, data)


@blp.route("/fees/<id:fee_id>/voids", methods=["POST"])
@blp.arguments(FeeVoidInSchema)
@blp.response(201, FeeSchema)
@refuses(
    BAD_REQUEST,
    FEE_ALREADY_VOID,
    FEE_IS_VOID,
    FORBIDDEN,
    IDEMPOTENCY_KEY_REUSED,
    IDEMPOTENCY_REQUEST_IN_PROGRESS,
    NOT_FOUND,
    UNAUTHENTICATED,
    VALIDATION_ERROR,
)
def void_fee(data, fee_id):
    """Void a wrong fee entry with a reason: an entry of the opposite amount (leader/staff)."""
    return fees.void_fee(current_user(), fee_id, data["reason"])


@blp.route("/teams/<id:tid>/subsidies", methods=["GET"])
@blp.arguments(MonthArgsSchema, location="query")
@blp.response(200, SubsidyReportSchema, headers=REPORT_HEADERS)
@refuses(FORBIDDEN, NOT_FOUND, NOT_PARKING_TEAM, UNAUTHENTICATED)
def subsidies(args, tid):
    """The month's fee pool split by completed shifts (leader/staff)."""
    return fees.subsidy_report(current_user(), tid, args["month"])


@blp.route("/teams/<id:tid>/subsidies.csv", methods=["GET"])
@blp.arguments(MonthArgsSchema, location="query")
@blp.response(200, content_type="text/csv", description="the subsidy report as CSV",
              headers=REPORT_HEADERS)
@refuses(FORBIDDEN, NOT_FOUND, NOT_PARKING_TEAM, UNAUTHENTICATED)
def subsidies_csv(args, tid):
    report = fees.subsidy_report(current_user(), tid, args["month"])
    return _download(fees.report_csv(report), "text/csv; charset=utf-8",
                     f"subsidies-{tid}-{args['month']}.csv")


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@blp.route("/teams/<id:tid>/subsidies.xlsx", methods=["GET"])
@blp.arguments(MonthArgsSchema, location="query")
@blp.response(200, content_type=XLSX, description="the subsidy report as a workbook",
              headers=REPORT_HEADERS)
@refuses(FORBIDDEN, NOT_FOUND, NOT_PARKING_TEAM, UNAUTHENTICATED)
def subsidies_xlsx(args, tid):
    report = fees.subsidy_report(current_user(), tid, args["month"])
    return _download(fees.report_xlsx(report), XLSX, f"subsidies-{tid}-{args['month']}.xlsx")


def _download(body: bytes, mimetype: str, filename: str) -> Response:
    return Response(body, mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@blp.route("/teams/<id:tid>/teammates", methods=["GET"])
@blp.arguments(TeammatesArgsSchema, location="query")
@paginated(blp, TeammateSchema)
@refuses(FORBIDDEN, NOT_FOUND, NOT_PARKING_TEAM, UNAUTHENTICATED)
def teammates(args, tid, paging):
    """The team's other members, names masked, and who is free on ``date``: the swap
    picker (members and managers of the team)."""
    return services.teammates(current_user(), tid, args["day"], *paging)
