"""HTTP routes of the street's view (SPEC §9a): the yearly team assessment, its weights
and the street overview. Schema in, one service call, schema out."""

from __future__ import annotations

from flask import Response
from flask_smorest import Blueprint

from backend.auth.services import current_user
from backend.common.api import refuses
from backend.common.cells import xlsx_bytes
from backend.common.replica import REPORT_HEADERS
from backend.communities.access import checked_first, require_admin
from backend.refusals import BAD_REQUEST, FORBIDDEN, NOT_FOUND, UNAUTHENTICATED
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


@blp.route("/communities/<id:cid>/teams/evaluation", methods=["GET"])
@checked_first(assessment.require_assessment_reader, "cid")
@blp.arguments(AssessmentArgsSchema, location="query")
@blp.response(200, TeamAssessmentPageSchema, headers=REPORT_HEADERS)
@refuses(FORBIDDEN, NOT_FOUND, UNAUTHENTICATED)
def team_assessment(args, cid):
    """The yearly assessment of every team, ranked, with the metrics behind each score
    (staff of the community, or an admin)."""
    return assessment.assessment_page(current_user(), cid, **args)


@blp.route("/communities/<id:cid>/teams/evaluation.xlsx", methods=["GET"])
@checked_first(assessment.require_assessment_reader, "cid")
@blp.arguments(AssessmentExportArgsSchema, location="query")
@blp.response(200, FILE, content_type=XLSX, description="the ranking, one sheet",
              headers=REPORT_HEADERS)
@refuses(FORBIDDEN, NOT_FOUND, UNAUTHENTICATED)
def team_assessment_xlsx(args, cid):
    """The same ranking as an Excel workbook (staff of the community, or an admin)."""
    rows = assessment.assessment_rows(current_user(), cid, args["year"])
    name = f"team-assessment-{cid}-{args['year']}.xlsx"
    return Response(xlsx_bytes(f"{args['year']}年队伍评价", rows), content_type=XLSX,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@blp.route("/street/assessment-weights", methods=["GET"])
@blp.response(200, WeightsOutSchema)
@refuses(FORBIDDEN, UNAUTHENTICATED)
def get_assessment_weights():
    """The weights of the three dimensions in the yearly assessment (admin)."""
    return street_settings.weights_view(current_user())


@blp.route("/street/assessment-weights", methods=["PUT"])
@checked_first(require_admin)
@blp.arguments(WeightsInSchema)
@blp.response(200, WeightsOutSchema)
@refuses(BAD_REQUEST, FORBIDDEN, UNAUTHENTICATED)
def put_assessment_weights(data):
    """Set the weights (admin; percent, summing to 100); audited in every community."""
    reason = data.pop("reason", "") or ""
    return street_settings.set_assessment_weights(current_user(), data, reason)


@blp.route("/street/overview", methods=["GET"])
@checked_first(require_admin)
@blp.arguments(OverviewArgsSchema, location="query")
@blp.response(200, OverviewPageSchema, headers=REPORT_HEADERS)
@refuses(FORBIDDEN, UNAUTHENTICATED)
def street_overview(args):
    """One row per community over the period: residents, volunteers, activities, hours,
    points issued and redeemed, open needs (admin)."""
    return overview.street_overview(current_user(), args["first_day"], args["last_day"],
                                    args["page"], args["per_page"])
