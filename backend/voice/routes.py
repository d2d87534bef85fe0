"""HTTP routes of the residents' voice (SPEC §9a): schema in, one service call, schema out."""

from __future__ import annotations

from flask_smorest import Blueprint

from backend.auth.services import current_user
from backend.common.api import refuses
from backend.common.pagination import PageArgsSchema, page_of
from backend.communities.access import checked_first
from backend.refusals import (
    ACTIVITY_CANCELLED,
    ACTIVITY_NOT_ENDED,
    ALREADY_EVALUATED,
    BAD_REQUEST,
    EVALUATION_ALREADY_HIDDEN,
    EVALUATION_CLOSED,
    FORBIDDEN,
    IDEMPOTENCY_KEY_REUSED,
    IDEMPOTENCY_REQUEST_IN_PROGRESS,
    MERGE_TARGET_CLOSED,
    NEED_ALREADY_CLOSED,
    NEED_CLOSED,
    NEED_LIMIT_REACHED,
    NEED_NOT_ACCEPTED,
    NEED_NOT_SERVED,
    NOT_FOUND,
    UNAUTHENTICATED,
    VALIDATION_ERROR,
)
from backend.voice import board, evaluations, services
from backend.voice.schemas import (
    BeneficiariesInSchema,
    BeneficiaryListSchema,
    EvaluationInSchema,
    EvaluationSchema,
    HiddenEvaluationSchema,
    HideInSchema,
    NeedInSchema,
    NeedListArgsSchema,
    NeedSchema,
    NoticeBoardSchema,
    PendingEvaluationSchema,
    SummarySchema,
    SupportSchema,
    TriageInSchema,
)

blp = Blueprint("voice", __name__,
                description="Residents' voice: needs, evaluations, the notice board")


@blp.route("/communities/<id:cid>/needs", methods=["POST"])
@blp.arguments(NeedInSchema)
@blp.response(201, NeedSchema)
@refuses(
    BAD_REQUEST,
    FORBIDDEN,
    IDEMPOTENCY_KEY_REUSED,
    IDEMPOTENCY_REQUEST_IN_PROGRESS,
    NEED_LIMIT_REACHED,
    NOT_FOUND,
    UNAUTHENTICATED,
    VALIDATION_ERROR,
)
def post_need(data, cid):
    """Raise a need (民事民提; a resident of the community); the author supports it."""
    return services.post_need(current_user(), cid, data)


@blp.route("/communities/<id:cid>/needs", methods=["GET"])
@blp.arguments(NeedListArgsSchema, location="query")
@blp.response(200, page_of(NeedSchema))
@refuses(NOT_FOUND, UNAUTHENTICATED)
def list_needs(args, cid):
    """The community's needs, by support or newest first (its residents and staff)."""
    return services.list_needs(current_user(), cid, **args)


@blp.route("/needs/<id:nid>", methods=["GET"])
@blp.response(200, NeedSchema)
@refuses(NOT_FOUND, UNAUTHENTICATED)
def get_need(nid):
    """One need with its reply (residents and staff of its community)."""
    return services.get_need(current_user(), nid)


@blp.route("/needs/<id:nid>/support", methods=["POST"])
@blp.response(200, SupportSchema)
@refuses(
    BAD_REQUEST,
    FORBIDDEN,
    IDEMPOTENCY_KEY_REUSED,
    IDEMPOTENCY_REQUEST_IN_PROGRESS,
    NEED_CLOSED,
    NOT_FOUND,
    UNAUTHENTICATED,
    VALIDATION_ERROR,
)
def support(nid):
    """Support a need (a resident of its community; again changes nothing)."""
    return services.support(current_user(), nid)


@blp.route("/needs/<id:nid>/support", methods=["DELETE"])
@blp.response(200, SupportSchema)
@refuses(FORBIDDEN, NEED_CLOSED, NOT_FOUND, UNAUTHENTICATED)
def unsupport(nid):
    """Withdraw my support (without one, changes nothing)."""
    return services.unsupport(current_user(), nid)


@blp.route("/needs/<id:nid>/triage", methods=["POST"])
@checked_first(services.require_need_staff, "nid")
@blp.arguments(TriageInSchema)
@blp.response(200, NeedSchema)
@refuses(
    BAD_REQUEST,
    FORBIDDEN,
    IDEMPOTENCY_KEY_REUSED,
    IDEMPOTENCY_REQUEST_IN_PROGRESS,
    MERGE_TARGET_CLOSED,
    NEED_ALREADY_CLOSED,
    NEED_NOT_ACCEPTED,
    NEED_NOT_SERVED,
    NOT_FOUND,
    UNAUTHENTICATED,
    VALIDATION_ERROR,
)
def triage(data, nid):
    """Accept (naming the team), decline, merge or mark done, with a reply everyone sees
    (staff); the author and every supporter are notified."""
    return services.triage(current_user(), nid, data)


@blp.route("/activities/<id:aid>/beneficiaries", methods=["PUT"])
@blp.arguments(BeneficiariesInSchema)
@blp.response(200, BeneficiaryListSchema)
@refuses(BAD_REQUEST, FORBIDDEN, NOT_FOUND, UNAUTHENTICATED, VALIDATION_ERROR)
def set_beneficiaries(data, aid):
    """Replace the list of residents the activity serves (its team's leader or staff)."""
    return evaluations.set_beneficiaries(current_user(), aid, data["user_ids"])


@blp.route("/activities/<id:aid>/beneficiaries", methods=["GET"])
@blp.response(200, BeneficiaryListSchema)
@refuses(FORBIDDEN, NOT_FOUND, UNAUTHENTICATED)
def get_beneficiaries(aid):
    """The residents the activity serves (its team's leader or staff)."""
    return evaluations.beneficiaries(current_user(), aid)


@blp.route("/activities/<id:aid>/evaluations", methods=["POST"])
@blp.arguments(EvaluationInSchema)
@blp.response(201, EvaluationSchema)
@refuses(
    ACTIVITY_CANCELLED,
    ACTIVITY_NOT_ENDED,
    ALREADY_EVALUATED,
    BAD_REQUEST,
    EVALUATION_CLOSED,
    FORBIDDEN,
    IDEMPOTENCY_KEY_REUSED,
    IDEMPOTENCY_REQUEST_IN_PROGRESS,
    NOT_FOUND,
    UNAUTHENTICATED,
    VALIDATION_ERROR,
)
def evaluate(data, aid):
    """Rate an ended activity 1–5 (民事民评): who attended or was served, once, within 14
    days of its end; not its own team's leaders."""
    return evaluations.evaluate(current_user(), aid, data)


@blp.route("/activities/<id:aid>/evaluations/summary", methods=["GET"])
@blp.response(200, SummarySchema)
@refuses(NOT_FOUND, UNAUTHENTICATED)
def summary(aid):
    """Count, average and distribution; the comments (authors masked) for the team's
    leaders and staff."""
    return evaluations.summary(current_user(), aid)


@blp.route("/evaluations/<id:eid>/hide", methods=["POST"])
@blp.arguments(HideInSchema)
@blp.response(200, HiddenEvaluationSchema)
@refuses(
    BAD_REQUEST,
    EVALUATION_ALREADY_HIDDEN,
    FORBIDDEN,
    IDEMPOTENCY_KEY_REUSED,
    IDEMPOTENCY_REQUEST_IN_PROGRESS,
    NOT_FOUND,
    UNAUTHENTICATED,
    VALIDATION_ERROR,
)
def hide(data, eid):
    """Hide an abusive evaluation (staff of its community; audited, never edited)."""
    return evaluations.hide(current_user(), eid, data["reason"])


@blp.route("/me/evaluations/pending", methods=["GET"])
@blp.arguments(PageArgsSchema, location="query")
@blp.response(200, page_of(PendingEvaluationSchema))
@refuses(UNAUTHENTICATED)
def pending(args):
    """Activities I can still evaluate, the soonest to close first."""
    return evaluations.pending(current_user(), **args)


@blp.route("/communities/<id:cid>/notice-board", methods=["GET"])
@blp.response(200, NoticeBoardSchema)
@refuses(NOT_FOUND, UNAUTHENTICATED)
def notice_board(cid):
    """The community notice board (公示): last closed month's points, ratings of recently
    ended activities, answered needs — aggregates and masked names only."""
    return board.notice_board(current_user(), cid)
