from __future__ import annotations

from flask_smorest import Blueprint

from backend.auth.services import current_user
from backend.common.pagination import PageArgsSchema, page_of, paginate
from backend.points import adjustments, services
from backend.points.reconciliation import reconcile
from backend.points.schemas import (
    AdjustmentInSchema,
    AdjustmentSchema,
    PeriodArgsSchema,
    PointsSummarySchema,
    ReconciliationSchema,
    StatementEntrySchema,
)

blp = Blueprint("points", __name__, description="Points: balances and statements")


@blp.route("/me/points", methods=["GET"])
@blp.response(200, PointsSummarySchema)
def my_points():
    """My balance, totals and points about to expire."""
    return services.summary(current_user())


@blp.route("/me/points/entries", methods=["GET"])
@blp.arguments(PageArgsSchema, location="query")
@blp.response(200, page_of(StatementEntrySchema))
def my_statement(args):
    """My statement, newest first, with my balance after each line."""
    query, account_id = services.statement(current_user())
    page = paginate(query, **args)
    page["items"] = [services.statement_entry(t, account_id) for t in page["items"]]
    return page


@blp.route("/communities/<id:cid>/points/reconciliation", methods=["GET"])
@blp.arguments(PeriodArgsSchema, location="query")
@blp.response(200, ReconciliationSchema)
def reconciliation(args, cid):
    """The period report: opening + issued − redeemed + refunded − expired + adjusted =
    closing, and every ledger invariant with its result (staff)."""
    return reconcile(current_user(), cid, args["first_day"], args["last_day"])


@blp.route("/communities/<id:cid>/points/adjustments", methods=["POST"])
@blp.arguments(AdjustmentInSchema)
@blp.response(201, AdjustmentSchema)
def request_adjustment(data, cid):
    """Ask for a manual adjustment (staff); another staff member must approve it."""
    return adjustments.request_adjustment(current_user(), cid, **data)


@blp.route("/points/adjustments/<id:adj_id>/approve", methods=["POST"])
@blp.response(200, AdjustmentSchema)
def approve_adjustment(adj_id):
    """Apply an adjustment (a different staff member of the community)."""
    return adjustments.approve_adjustment(current_user(), adj_id)
