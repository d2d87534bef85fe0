from __future__ import annotations

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from backend.auth.services import current_user
from backend.common import cells
from backend.common.api import refuses
from backend.common.pagination import Listing, PageArgsSchema, paginated
from backend.communities import services
from backend.communities.access import staff_only
from backend.communities.schemas import (
    AuditArgsSchema,
    AuditEntrySchema,
    CommunityInSchema,
    CommunitySchema,
    CommunitySettingsSchema,
    JoinInSchema,
    MemberInSchema,
    MemberSchema,
    ResidentSchema,
    StaffInSchema,
    StaffSchema,
    TeamInSchema,
    TeamSchema,
)
from backend.refusals import (
    ALREADY_IN_COMMUNITY,
    BAD_REQUEST,
    FORBIDDEN,
    IDEMPOTENCY_KEY_REUSED,
    IDEMPOTENCY_REQUEST_IN_PROGRESS,
    NOT_A_RESIDENT,
    NOT_FOUND,
    UNAUTHENTICATED,
    VALIDATION_ERROR,
)

blp = Blueprint("communities", __name__, description="Communities, staff, residents and teams")


@blp.route("/communities")
class Communities(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @paginated(blp, CommunitySchema)
    @refuses(UNAUTHENTICATED)
    def get(self, args):
        """List communities (any logged-in user: residents pick the one to join)."""
        current_user()
        return services.list_communities()

    @blp.arguments(CommunityInSchema)
    @blp.response(201, CommunitySchema)
    @refuses(
        BAD_REQUEST,
        FORBIDDEN,
        IDEMPOTENCY_KEY_REUSED,
        IDEMPOTENCY_REQUEST_IN_PROGRESS,
        UNAUTHENTICATED,
        VALIDATION_ERROR,
    )
    def post(self, data):
        """Create a community (street administrators)."""
        return services.create_community(current_user(), **data)


@blp.route("/communities/<id:cid>")
class CommunityDetail(MethodView):
    @blp.response(200, CommunitySchema)
    @refuses(NOT_FOUND, UNAUTHENTICATED)
    def get(self, cid):
        current_user()
        return services.get_community(cid)

    @blp.arguments(CommunitySettingsSchema(partial=True), required=False)
    @blp.response(200, CommunitySchema)
    @refuses(BAD_REQUEST, FORBIDDEN, NOT_FOUND, UNAUTHENTICATED)
    def patch(self, changes, cid):
        """Change the community's no-show rules (staff of the community, or an admin)."""
        return services.update_community_settings(current_user(), cid, changes)


@blp.route("/communities/<id:cid>/staff", methods=["POST"])
@blp.arguments(StaffInSchema)
@blp.response(201, StaffSchema)
@blp.alt_response(200, schema=StaffSchema, description="Already staff")
@refuses(
    BAD_REQUEST,
    FORBIDDEN,
    IDEMPOTENCY_KEY_REUSED,
    IDEMPOTENCY_REQUEST_IN_PROGRESS,
    NOT_FOUND,
    UNAUTHENTICATED,
    VALIDATION_ERROR,
)
def add_staff(data, cid):
    """Make a user staff of the community (street administrators)."""
    staff, created = services.add_staff(current_user(), cid, data["user_id"])
    return staff, 201 if created else 200


@blp.route("/communities/<id:cid>/staff/<id:uid>", methods=["DELETE"])
@blp.response(204)
@refuses(FORBIDDEN, NOT_FOUND, UNAUTHENTICATED)
def remove_staff(cid, uid):
    """End a user's office as staff (street administrators); their tokens stop working."""
    services.remove_staff(current_user(), cid, uid)


@blp.route("/communities/<id:cid>/join", methods=["POST"])
@blp.arguments(JoinInSchema)
@blp.response(201, ResidentSchema)
@blp.alt_response(200, schema=ResidentSchema, description="Already a resident; address updated")
@refuses(
    ALREADY_IN_COMMUNITY,
    BAD_REQUEST,
    IDEMPOTENCY_KEY_REUSED,
    IDEMPOTENCY_REQUEST_IN_PROGRESS,
    NOT_FOUND,
    UNAUTHENTICATED,
    VALIDATION_ERROR,
)
def join(data, cid):
    """Become a resident of the community (one community at a time)."""
    resident, created = services.join_community(current_user(), cid, data)
    return resident, 201 if created else 200


@blp.route("/communities/<id:cid>/teams")
class Teams(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @paginated(blp, TeamSchema)
    @refuses(FORBIDDEN, NOT_FOUND, UNAUTHENTICATED)
    def get(self, args, cid):
        return services.list_teams(current_user(), cid)

    @blp.arguments(TeamInSchema)
    @blp.response(201, TeamSchema)
    @refuses(
        BAD_REQUEST,
        FORBIDDEN,
        IDEMPOTENCY_KEY_REUSED,
        IDEMPOTENCY_REQUEST_IN_PROGRESS,
        NOT_FOUND,
        UNAUTHENTICATED,
        VALIDATION_ERROR,
    )
    def post(self, data, cid):
        """Create a team (staff of the community)."""
        return services.create_team(current_user(), cid, **data)


@blp.route("/teams/<id:tid>/members")
class TeamMembers(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @paginated(blp, MemberSchema)
    @refuses(FORBIDDEN, NOT_FOUND, UNAUTHENTICATED)
    def get(self, args, tid):
        """The team's members (staff, or the team's leaders; names masked for leaders)."""
        viewer = current_user()
        team, query = services.list_team_members(viewer, tid)

        def shape(rows):
            names = services.display_names(viewer, team.community_id, [m.user_id for m in rows])
            return [_member(m, names[m.user_id]) for m in rows]

        return Listing(query, shape)

    @blp.arguments(MemberInSchema)
    @blp.response(201, MemberSchema)
    @blp.alt_response(200, schema=MemberSchema, description="Already a member; role updated")
    @refuses(
        BAD_REQUEST,
        FORBIDDEN,
        IDEMPOTENCY_KEY_REUSED,
        IDEMPOTENCY_REQUEST_IN_PROGRESS,
        NOT_A_RESIDENT,
        NOT_FOUND,
        UNAUTHENTICATED,
        VALIDATION_ERROR,
    )
    def post(self, data, tid):
        """Add a member or leader (staff, or the team's leader)."""
        viewer = current_user()
        member, created = services.add_team_member(viewer, tid, data["user_id"], data["role"])
        team = services.get_team(tid)
        name = services.display_names(viewer, team.community_id, [member.user_id])
        return _member(member, name[member.user_id]), 201 if created else 200


@blp.route("/teams/<id:tid>/members/<id:uid>", methods=["DELETE"])
@blp.response(204)
@refuses(FORBIDDEN, NOT_FOUND, UNAUTHENTICATED)
def remove_member(tid, uid):
    """Take a member or leader off the team (staff, or the team's leader); their tokens
    stop working."""
    services.remove_team_member(current_user(), tid, uid)


def _member(member, display_name: str) -> dict:
    return {"id": member.id, "team_id": member.team_id, "user_id": member.user_id,
            "role": member.role, "display_name": display_name}


@blp.route("/communities/<id:cid>/audit", methods=["GET"])
@staff_only
@blp.arguments(AuditArgsSchema, location="query")
@paginated(blp, AuditEntrySchema)
@refuses(FORBIDDEN, NOT_FOUND, UNAUTHENTICATED)
def audit_trail(args, cid):
    """Who changed points, rates, stock, fees or rosters, when, before → after, and why
    (staff of the community), newest first."""
    return services.audit_trail(current_user(), cid, args)


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@blp.route("/communities/<id:cid>/audit.xlsx", methods=["GET"])
@staff_only
@blp.arguments(AuditArgsSchema, location="query")
@blp.response(200, {"type": "string", "format": "binary"}, content_type=XLSX,
              description="the audit trail as a workbook")
@refuses(FORBIDDEN, NOT_FOUND, UNAUTHENTICATED)
def audit_trail_xlsx(args, cid):
    """The same trail as a workbook, newest first (staff of the community)."""
    for key in ("page", "per_page"):
        args.pop(key)
    body = cells.xlsx_bytes("操作记录", services.audit_rows(current_user(), cid, args))
    return Response(body, content_type=XLSX, headers={
        "Content-Disposition": f'attachment; filename="audit-{cid}.xlsx"'})
