from __future__ import annotations

from flask import Response, stream_with_context
from flask_smorest import Blueprint

from backend.auth.services import current_user
from backend.common.api import refuses
from backend.common.pagination import Listing, PageArgsSchema, paginated
from backend.common.replica import REPORT_HEADERS
from backend.communities.access import staff_only
from backend.points import adjustments, export, periods, reversals, services
from backend.points.reconciliation import reconcile
from backend.points.schemas import (
    AdjustmentInSchema,
    AdjustmentSchema,
    ClosedPeriodSchema,
    PeriodArgsSchema,
    PointsSummarySchema,
    ReconciliationSchema,
    ReversalInSchema,
    ReversalListArgsSchema,
    ReversalSchema,
    StatementEntrySchema,
    TransferListArgsSchema,
    TransferSchema,
)
from backend.refusals import (
    ADJUSTMENT_ALREADY_APPLIED,
    ALREADY_REVERSED,
    BAD_REQUEST,
    FORBIDDEN,
    FOUR_EYES_REQUIRED,
    IDEMPOTENCY_KEY_REUSED,
    IDEMPOTENCY_REQUEST_IN_PROGRESS,
    INSUFFICIENT_POINTS,
    NOT_A_RESIDENT,
    NOT_FOUND,
    NOT_REVERSIBLE,
    PERIOD_ALREADY_CLOSED,
    PERIOD_CLOSED,
    PERIOD_NOT_ENDED,
    UNAUTHENTICATED,
    VALIDATION_ERROR,
)

blp = Blueprint("points", __name__, description="Points: balances and statements")


@blp.route("/me/points", methods=["GET"])
@blp.response(200, PointsSummarySchema)
@refuses(UNAUTHENTICATED)
def my_points():
    """My balance, totals and points about to expire."""
    return services.summary(current_user())


@blp.route("/me/points/entries", methods=["GET"])
@blp.arguments(PageArgsSchema, location="query")
@paginated(blp, StatementEntrySchema)
@refuses(UNAUTHENTICATED)
def my_statement(args):
    """My statement, newest first, with my balance after each line."""
    query, account_id = services.statement(current_user())
    return Listing(query, lambda rows: [services.statement_entry(t, account_id) for t in rows])


@blp.route("/communities/<id:cid>/points/reconciliation", methods=["GET"])
@staff_only
@blp.arguments(PeriodArgsSchema, location="query")
@blp.response(200, ReconciliationSchema, headers=REPORT_HEADERS)
@refuses(FORBIDDEN, NOT_FOUND, UNAUTHENTICATED)
def reconciliation(args, cid):
    """The period report: opening + issued − redeemed + refunded − expired + adjusted =
    closing, and every ledger invariant with its result (staff)."""
    return reconcile(current_user(), cid, args["first_day"], args["last_day"])


@blp.route("/communities/<id:cid>/points/adjustments", methods=["POST"])
@staff_only
@blp.arguments(AdjustmentInSchema)
@blp.response(201, AdjustmentSchema)
@refuses(
    BAD_REQUEST,
    FORBIDDEN,
    FOUR_EYES_REQUIRED,
    IDEMPOTENCY_KEY_REUSED,
    IDEMPOTENCY_REQUEST_IN_PROGRESS,
    NOT_A_RESIDENT,
    NOT_FOUND,
    UNAUTHENTICATED,
    VALIDATION_ERROR,
)
def request_adjustment(data, cid):
    """Ask for a manual adjustment (staff); another staff member must approve it."""
    return adjustments.request_adjustment(current_user(), cid, **data)


@blp.route("/points/adjustments/<id:adj_id>/approve", methods=["POST"])
@blp.response(200, AdjustmentSchema)
@refuses(
    ADJUSTMENT_ALREADY_APPLIED,
    ALREADY_REVERSED,
    BAD_REQUEST,
    FORBIDDEN,
    FOUR_EYES_REQUIRED,
    IDEMPOTENCY_KEY_REUSED,
    IDEMPOTENCY_REQUEST_IN_PROGRESS,
    INSUFFICIENT_POINTS,
    NOT_FOUND,
    PERIOD_CLOSED,
    UNAUTHENTICATED,
    VALIDATION_ERROR,
)
def approve_adjustment(adj_id):
    """Apply an adjustment (a different staff member of the community)."""
    return adjustments.approve_adjustment(current_user(), adj_id)


@blp.route("/communities/<id:cid>/points/transfers", methods=["GET"])
@staff_only
@blp.arguments(TransferListArgsSchema, location="query")
@paginated(blp, TransferSchema)
@refuses(FORBIDDEN, NOT_FOUND, UNAUTHENTICATED)
def community_transfers(args, cid):
    """The community's ledger lines, newest first, e.g. one resident's (staff)."""
    query = reversals.community_transfers(current_user(), cid, args.pop("user_id", None),
                                          args.pop("reason", None))
    return query


@blp.route("/points/transfers/<id:transfer_id>/reversals", methods=["POST"])
@blp.arguments(ReversalInSchema)
@blp.response(201, ReversalSchema)
@refuses(
    ALREADY_REVERSED,
    BAD_REQUEST,
    FORBIDDEN,
    FOUR_EYES_REQUIRED,
    IDEMPOTENCY_KEY_REUSED,
    IDEMPOTENCY_REQUEST_IN_PROGRESS,
    NOT_FOUND,
    NOT_REVERSIBLE,
    UNAUTHENTICATED,
    VALIDATION_ERROR,
)
def request_reversal(data, transfer_id):
    """Ask to reverse a mistaken transfer (staff); another staff member applies it."""
    return reversals.request_reversal(current_user(), transfer_id, data["reason"])


@blp.route("/points/reversals/<id:reversal_id>/approve", methods=["POST"])
@blp.response(200, ReversalSchema)
@refuses(
    ADJUSTMENT_ALREADY_APPLIED,
    ALREADY_REVERSED,
    BAD_REQUEST,
    FORBIDDEN,
    FOUR_EYES_REQUIRED,
    IDEMPOTENCY_KEY_REUSED,
    IDEMPOTENCY_REQUEST_IN_PROGRESS,
    INSUFFICIENT_POINTS,
    NOT_FOUND,
    PERIOD_CLOSED,
    UNAUTHENTICATED,
    VALIDATION_ERROR,
)
def approve_reversal(reversal_id):
    """Write the reversing transfer (a different staff member of the community)."""
    return reversals.approve_reversal(current_user(), reversal_id)


@blp.route("/communities/<id:cid>/points/reversals", methods=["GET"])
@staff_only
@blp.arguments(ReversalListArgsSchema, location="query")
@paginated(blp, ReversalSchema)
@refuses(FORBIDDEN, NOT_FOUND, UNAUTHENTICATED)
def community_reversals(args, cid):
    """Reversals asked for and applied, newest first (staff)."""
    return reversals.community_reversals(current_user(), cid, args.pop("status", None))


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FILE = {"type": "string", "format": "binary"}


@blp.route("/communities/<id:cid>/points/ledger.csv", methods=["GET"])
@staff_only
@blp.arguments(PeriodArgsSchema, location="query")
@blp.response(200, FILE, content_type="text/csv", description="every transfer, UTF-8 CSV",
              headers=REPORT_HEADERS)
@refuses(FORBIDDEN, NOT_FOUND, UNAUTHENTICATED)
def ledger_csv(args, cid):
    """Every transfer of the period as CSV, phone numbers masked (staff)."""
    rows = export.ledger_rows(current_user(), cid, args["first_day"], args["last_day"])
    first = next(rows)  # authorisation runs now, not once the stream has started
    body = stream_with_context(export.as_csv(_prepend(first, rows)))
    return Response(body, content_type="text/csv; charset=utf-8",
                    headers=_attachment(cid, args, "csv"))


@blp.route("/communities/<id:cid>/points/ledger.xlsx", methods=["GET"])
@staff_only
@blp.arguments(PeriodArgsSchema, location="query")
@blp.response(200, FILE, content_type=XLSX, description="every transfer, one sheet",
              headers=REPORT_HEADERS)
@refuses(FORBIDDEN, NOT_FOUND, UNAUTHENTICATED)
def ledger_xlsx(args, cid):
    """Every transfer of the period as an Excel workbook, phone numbers masked (staff)."""
    rows = export.ledger_rows(current_user(), cid, args["first_day"], args["last_day"])
    return Response(export.as_xlsx(rows), content_type=XLSX,
                    headers=_attachment(cid, args, "xlsx"))


def _prepend(first, rest):
    yield first
    yield from rest


def _attachment(cid: int, args: dict, extension: str) -> dict[str, str]:
    name = f"ledger-{cid}-{args['first_day']:%Y%m%d}-{args['last_day']:%Y%m%d}.{extension}"
    return {"Content-Disposition": f'attachment; filename="{name}"'}


@blp.route("/communities/<id:cid>/points/periods/<month:period>/close", methods=["POST"])
@blp.response(201, ClosedPeriodSchema)
@refuses(
    BAD_REQUEST,
    FORBIDDEN,
    IDEMPOTENCY_KEY_REUSED,
    IDEMPOTENCY_REQUEST_IN_PROGRESS,
    NOT_FOUND,
    PERIOD_ALREADY_CLOSED,
    PERIOD_NOT_ENDED,
    UNAUTHENTICATED,
    VALIDATION_ERROR,
)
def close_period(cid, period):
    """Close a month's books (staff): afterwards no transfer may be dated inside it."""
    return periods.close_period(current_user(), cid, period)
