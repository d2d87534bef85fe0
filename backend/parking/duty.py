"""Duty check-in at the parking post (SPEC §8), missed shifts and shift reminders.

The post code is a printed QR: ``duty:<team id>`` signed with the server's secret (HMAC,
itsdangerous), so it cannot be forged or pointed at another team, and it never expires —
it hangs at the entrance for months. Being at the post is what the code proves; being on
duty is what the roster says: only the member holding a shift of that team, inside the
shift's window (from ``DUTY_CHECKIN_EARLY_MIN`` minutes before its start until its end),
checks in. The first check-in completes the shift and credits ``points_per_shift`` as a
``duty`` transfer whose idempotency key is the assignment's, so it is credited once.
"""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import qrcode
from flask import current_app
from itsdangerous import BadSignature, Signer
from sqlalchemy import select

from backend.auth.models import User
from backend.common.clock import LOCAL_TZ, now
from backend.communities import access
from backend.communities.models import Team
from backend.communities.services import display_names
from backend.errors import ApiError
from backend.extensions import db
from backend.notify.services import notify
from backend.parking.models import Assignment, AssignmentStatus, Roster, RosterStatus
from backend.parking.services import SHIFTS_PAGE, duty_settings, leader_ids, parking_team
from backend.points.ledger import account_for, transfer
from backend.points.models import AccountKind, TransferReason

POST_CODE_SALT = "linli-duty-post"
REMIND_BEFORE = timedelta(hours=2)
SWEEP_BATCH = 500


def _signer() -> Signer:
    return Signer(current_app.config["SECRET_KEY"], salt=POST_CODE_SALT)


def post_code(actor: User, team_id: int) -> str:
    team = parking_team(team_id)
    access.require_team_manager(actor, team)
    return _signer().sign(f"duty:{team.id}").decode()


def post_code_png(actor: User, team_id: int) -> bytes:
    image = qrcode.QRCode(border=4)
    image.add_data(post_code(actor, team_id))
    buffer = io.BytesIO()
    image.make_image().save(buffer)
    return buffer.getvalue()


def _team_of_code(code: str) -> int:
    try:
        value = _signer().unsign(code.encode()).decode()
    except (BadSignature, UnicodeError) as error:
        raise ApiError("invalid_code", "岗亭码无效") from error
    kind, _, team_id = value.partition(":")
    if kind != "duty" or not team_id.isdigit():
        raise ApiError("invalid_code", "岗亭码无效")
    return int(team_id)


def _window_opens(assignment_starts):
    return assignment_starts - timedelta(minutes=current_app.config["DUTY_CHECKIN_EARLY_MIN"])


def check_in(actor: User, code: str) -> dict[str, Any]:
    """Check the caller in to the shift they hold at this post right now."""
    team = db.session.get(Team, _team_of_code(code))
    if team is None:
        raise ApiError("invalid_code", "岗亭码无效")
    current = now()
    early = timedelta(minutes=current_app.config["DUTY_CHECKIN_EARLY_MIN"])
    held = _held_shifts(actor, team.id).where(Assignment.starts_at <= current + early,
                                             Assignment.ends_at > current)
    found = db.session.scalar(held.order_by(Assignment.starts_at).limit(1))
    if found is None:
        _refuse_off_duty(actor, team.id, current)
    assignment = db.session.scalars(select(Assignment).where(Assignment.id == found.id)
                                    .with_for_update()
                                    .execution_options(populate_existing=True)).one()
    if assignment.user_id != actor.id:  # moved to someone else while we waited
        raise ApiError("not_on_duty", "您当前没有值班班次")
    if assignment.status == AssignmentStatus.COMPLETED:
        return {"result": "already_checked_in", "assignment": assignment,
                "points": _credited(assignment)}
    points = duty_settings(team.id).points_per_shift
    moved = None
    if points > 0:
        moved = transfer(account_for(team.community_id, AccountKind.ISSUED),
                         account_for(team.community_id, AccountKind.RESIDENT, actor.id),
                         points, TransferReason.DUTY, f"assignment:{assignment.id}",
                         f"duty-assignment-{assignment.id}", author_id=actor.id)
    assignment.complete(current, moved.id if moved else None)
    db.session.commit()
    return {"result": "ok", "assignment": assignment, "points": points}


def _held_shifts(actor: User, team_id: int):
    return (select(Assignment).join(Roster, Roster.id == Assignment.roster_id)
            .where(Assignment.team_id == team_id, Assignment.user_id == actor.id,
                   Roster.status == RosterStatus.PUBLISHED))


def _refuse_off_duty(actor: User, team_id: int, current) -> None:
    nearby = db.session.scalar(_held_shifts(actor, team_id).where(
        Assignment.starts_at < current + timedelta(hours=24),
        Assignment.ends_at > current - timedelta(hours=24)).order_by(Assignment.starts_at))
    if nearby is not None:
        raise ApiError("outside_window", "不在值班签到时间内", details={
            "opens_at": _window_opens(nearby.starts_at).astimezone(LOCAL_TZ).isoformat(),
            "closes_at": nearby.ends_at.astimezone(LOCAL_TZ).isoformat()})
    raise ApiError("not_on_duty", "您当前没有值班班次")


def _credited(assignment: Assignment) -> int:
    from backend.points.models import Transfer

    if assignment.transfer_id is None:
        return 0
    return db.session.get(Transfer, assignment.transfer_id).amount


def _label(assignment: Assignment) -> str:
    starts = assignment.starts_at.astimezone(LOCAL_TZ)
    return f"{starts:%m月%d日} {assignment.shift}（{starts:%H:%M}起）"


def _due(*conditions):
    return (select(Assignment).join(Roster, Roster.id == Assignment.roster_id)
            .where(Roster.status == RosterStatus.PUBLISHED,
                   Assignment.status == AssignmentStatus.SCHEDULED,
                   Assignment.user_id.is_not(None), *conditions)
            .order_by(Assignment.id).limit(SWEEP_BATCH))


def mark_missed_shifts() -> int:
    """Shifts that ended with no check-in become ``missed``; the leaders are told (flush)."""
    rows = list(db.session.scalars(_due(Assignment.ends_at <= now())
                                   .with_for_update(skip_locked=True)))
    for assignment in rows:
        assignment.mark_missed()
        team = db.session.get(Team, assignment.team_id)
        for leader in leader_ids(team.id):
            name = display_names(db.session.get(User, leader), team.community_id,
                                 [assignment.user_id])[assignment.user_id]
            notify(leader, "shift_reminder", f"{name} 未签到：{_label(assignment)}",
                   dedupe_key=f"duty_missed:{assignment.id}:{leader}",
                   data={"assignment_id": assignment.id}, page=SHIFTS_PAGE)
    db.session.flush()
    return len(rows)


def remind_upcoming_shifts() -> int:
    """Tell members of shifts starting within two hours (once per member and shift)."""
    current = now()
    rows = db.session.scalars(_due(Assignment.starts_at > current,
                                   Assignment.starts_at <= current + REMIND_BEFORE))
    return sum(notify(a.user_id, "shift_reminder", f"您的值班 {_label(a)} 即将开始",
                      dedupe_key=f"shift_reminder:{a.id}:{a.user_id}",
                      data={"assignment_id": a.id}, page=SHIFTS_PAGE)
               for a in list(rows))
