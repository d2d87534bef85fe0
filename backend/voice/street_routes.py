"""HTTP routes of the street's view (SPEC §9a): the yearly team assessment, its weights
and the street overview. Schema in, one service call, schema out."""

from __future__ import annotations

import functools
from collections.abc import Callable

from flask import Response
from flask_smorest import Blueprint

from backend.auth.services import current_user
from backend.common.cells import xlsx_bytes
from backend.communities.access import require_admin
from backend.voice import assessment, overview, street_settings
from backend.voice.assessment_schemas import (
    AssessmentArgsSchema,
    AssessmentExportArgsSchema,
    OverviewArgsSchema,
    OverviewPageSchema,
    TeamAssessmentPageSchema,
    WeightsInSchema,
    WeightsOutSchema,
)

blp = Blueprint("street", __name__,
                description="The street's view: yearly team assessment and overview")

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FILE = {"type": "string", "format": "binary"}


def readers_only(view: Callable) -> Callable:
    """Staff of ``cid`` or an admin: the 404 or 403 comes before the query is validated."""

    @functools.wraps(view)
    def checked(*args, **kwargs):
        assessment.require_assessment_reader(current_user(), kwargs["cid"])
        return view(*args, **kwargs)

    return checked


def admins_only(view: Callable) -> Callable:
    """Street administrators: the 403 comes before the query or body is validated."""

    @functools.wraps(view)
    def checked(*args, **kwargs):
        require_admin(current_user())
        return view(*args, **kwargs)

    return checked


@blp.route("/communities/<id:cid>/teams/evaluation", methods=["GET"])
@readers_only
@blp.arguments(AssessmentArgsSchema, location="query")
@blp.response(200, TeamAssessmentPageSchema)
def team_assessment(args, cid):
    """The yearly assessment of every team, ranked, with the metrics behind each score
    (staff of the community, or an admin)."""
    return assessment.assessment_page(current_user(), cid, **args)


@blp.route("/communities/<id:cid>/teams/evaluation.xlsx", methods=["GET"])
@readers_only
@blp.arguments(AssessmentExportArgsSchema, location="query")
@blp.response(200, FILE, content_type=XLSX, description="the ranking, one sheet")
def team_assessment_xlsx(args, cid):
    """The same ranking as an Excel workbook (staff of the community, or an admin)."""
    rows = assessment.assessment_rows(current_user(), cid, args["year"])
    name = f"team-assessment-{cid}-{args['year']}.xlsx"
    return Response(xlsx_bytes(f"{args['year']}年队伍评价", rows), content_type=XLSX,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@blp.route("/street/assessment-weights", methods=["GET"])
@blp.response(200, WeightsOutSchema)
def get_assessment_weights():
    """The weights of the three dimensions in the yearly assessment (admin)."""
    return street_settings.weights_view(current_user())


@blp.route("/street/assessment-weights", methods=["PUT"])
@admins_only
@blp.arguments(WeightsInSchema)
@blp.response(200, WeightsOutSchema)
def put_assessment_weights(data):
    """Set the weights (admin; percent, summing to 100); audited in every community."""
    reason = data.pop("reason", "") or ""
    return street_settings.set_assessment_weights(current_user(), data, reason)


@blp.route("/street/overview", methods=["GET"])
@admins_only
@blp.arguments(OverviewArgsSchema, location="query")
@blp.response(200, OverviewPageSchema)
def street_overview(args):
    """One row per community over the period: residents, volunteers, activities, hours,
    points issued and redeemed, open needs (admin)."""
    return overview.street_overview(current_user(), args["first_day"], args["last_day"],
                                    args["page"], args["per_page"])
