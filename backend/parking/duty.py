"""Duty check-in at the parking post (SPEC §8), missed shifts and shift reminders.

Being at the post is proved one of two ways:
- the printed post code (``duty:<team>:<version>`` signed with the server's secret, so it
  cannot be forged or pointed at another team) together with the phone's location
  (``wx.getLocation``) within the radius the team set for its post: a photo of the code
  checks nobody in from home, and rotating the version voids every old copy;
- a hand-over (交接班): the member going off duty scans the incoming member's live
  check-in code at the post.

Being on duty is what the roster says: only the member holding a shift of that team, from
``DUTY_CHECKIN_EARLY_MIN`` minutes before its start until its end. A check-in completes
the shift; its points are minted later, like service hours, by two other people (see
``credits.py``).
"""

from __future__ import annotations

import io
import math
from datetime import datetime, timedelta
from typing import Any

import qrcode
from flask import current_app
from itsdangerous import BadSignature, Signer
from sqlalchemy import select

from backend.auth.models import User
from backend.checkin import codes
from backend.common.audit import audit
from backend.common.clock import LOCAL_TZ, now
from backend.common.transactions import lock, lock_where, transactional
from backend.communities import access
from backend.communities.models import Team
from backend.communities.services import display_names
from backend.extensions import db
from backend.notify.services import notify
from backend.parking.models import (
    Assignment,
    AssignmentStatus,
    CheckinMethod,
    DutySettings,
    Roster,
    RosterStatus,
)
from backend.parking.services import SHIFTS_PAGE, leader_ids, parking_team
from backend.refusals import (
    AWAY_FROM_POST,
    EXPIRED_CODE,
    HANDOVER_NOT_ALLOWED,
    INVALID_CODE,
    LOCATION_REQUIRED,
    NOT_ON_DUTY,
    OUTSIDE_WINDOW,
    POST_LOCATION_NOT_SET,
)

POST_CODE_SALT = "linli-duty-post"
REMIND_BEFORE = timedelta(hours=2)
SWEEP_BATCH = 500
# The outgoing member's shift must end this close to the incoming one's start.
HANDOVER_GAP = timedelta(hours=1)


def _signer() -> Signer:
    return Signer(current_app.config["SECRET_KEY"], salt=POST_CODE_SALT)


def settings_row(team_id: int, lock: bool = False) -> DutySettings:
    """The team's duty settings, created on first use (flush only)."""
    query = select(DutySettings).where(DutySettings.team_id == team_id)
    row = next(iter(lock_where(query)), None) if lock else db.session.scalar(query)
    if row is None:
        row = DutySettings(team_id=team_id, points_per_shift=0, post_code_version=0)
        db.session.add(row)
        db.session.flush()
    return row


def post_code(actor: User, team_id: int) -> str:
    """The code to print for the post (leaders and staff only)."""
    team = parking_team(team_id)
    access.require_team_manager(actor, team)
    version = settings_row(team.id).post_code_version
    return _signer().sign(f"duty:{team.id}:{version}").decode()


def post_code_png(actor: User, team_id: int) -> bytes:
    image = qrcode.QRCode(border=4)
    image.add_data(post_code(actor, team_id))
    buffer = io.BytesIO()
    image.make_image().save(buffer)
    return buffer.getvalue()


@transactional
def rotate_post_code(actor: User, team_id: int) -> str:
    """Void every printed copy of the post code (a photo of it leaked, say)."""
    team = parking_team(team_id)
    access.require_team_manager(actor, team)
    settings = settings_row(team.id, lock=True)
    settings.post_code_version += 1
    audit(actor.id, team.community_id, "duty.post_code_rotated", f"team:{team.id}",
          "更换岗亭码", after={"version": settings.post_code_version})
    return post_code(actor, team_id)


@transactional
def set_post(actor: User, team_id: int, data: dict[str, Any]) -> DutySettings:
    """Where the post is, and how far from it a phone may check in."""
    team = parking_team(team_id)
    access.require_team_manager(actor, team)
    settings = settings_row(team.id, lock=True)
    before = _post_of(settings)
    settings.post_latitude, settings.post_longitude = data["latitude"], data["longitude"]
    settings.post_radius_m = data["radius_m"]
    audit(actor.id, team.community_id, "duty.post_changed", f"team:{team.id}", "设置岗亭位置",
          before=before, after=_post_of(settings))
    return settings


def _post_of(settings: DutySettings) -> dict[str, Any]:
    return {"latitude": settings.post_latitude, "longitude": settings.post_longitude,
            "radius_m": settings.post_radius_m}


def _team_of_code(code: str) -> Team:
    try:
        value = _signer().unsign(code.encode()).decode()
    except (BadSignature, UnicodeError) as error:
        raise INVALID_CODE() from error
    kind, _, rest = value.partition(":")
    team_id, _, version = rest.partition(":")
    if kind != "duty" or not team_id.isdigit() or not version.isdigit():
        raise INVALID_CODE()
    team = db.session.get(Team, int(team_id))
    if team is None or settings_row(team.id).post_code_version != int(version):
        raise INVALID_CODE.saying("岗亭码已更换，请扫描岗亭张贴的新码")
    return team


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine; plenty for a few hundred metres)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_000 * math.asin(math.sqrt(a))


def _require_at_post(team: Team, location: dict[str, float] | None) -> None:
    settings = settings_row(team.id)
    if not settings.has_post_location:
        raise POST_LOCATION_NOT_SET()
    if location is None:
        raise LOCATION_REQUIRED()
    away = distance_m(settings.post_latitude, settings.post_longitude,
                      location["latitude"], location["longitude"])
    if away > settings.post_radius_m:
        raise AWAY_FROM_POST(
            details={"distance_m": round(away), "radius_m": settings.post_radius_m},
        )


@transactional
def check_in(actor: User, code: str, location: dict[str, float] | None) -> dict[str, Any]:
    """Check the caller in, at the post, to the shift they hold there right now."""
    team = _team_of_code(code)
    _require_at_post(team, location)
    assignment = _current_shift(actor.id, team.id)
    return _complete(assignment, CheckinMethod.LOCATION)


@transactional
def hand_over(actor: User, code: str) -> dict[str, Any]:
    """The member going off duty scans the incoming member's check-in code (交接班)."""
    try:
        incoming_id = codes.verify(code, codes.CodeKind.PERSONAL, now()).subject_id
    except codes.ExpiredCode as error:
        raise EXPIRED_CODE() from error
    except codes.InvalidCode as error:
        raise INVALID_CODE.saying("签到码无效") from error
    if incoming_id == actor.id:
        raise HANDOVER_NOT_ALLOWED()
    incoming = _current_shift(incoming_id, team_id=None)
    outgoing = db.session.scalar(_held_shifts(actor.id, incoming.team_id).where(
        Assignment.status.in_((AssignmentStatus.COMPLETED, AssignmentStatus.CONFIRMED,
                               AssignmentStatus.APPROVED)),
        Assignment.ends_at >= incoming.starts_at - HANDOVER_GAP,
        Assignment.ends_at <= incoming.starts_at + HANDOVER_GAP).limit(1))
    if outgoing is None:
        raise HANDOVER_NOT_ALLOWED.saying("只有刚值完上一班并已签到的队员可以为接班队员交接")
    return _complete(incoming, CheckinMethod.HANDOVER, handed_over_by=actor.id)


def _current_shift(user_id: int, team_id: int | None) -> Assignment:
    """The shift ``user_id`` holds now (of ``team_id``, if given), locked."""
    current = now()
    early = timedelta(minutes=current_app.config["DUTY_CHECKIN_EARLY_MIN"])
    held = _held_shifts(user_id, team_id).where(Assignment.starts_at <= current + early,
                                               Assignment.ends_at > current)
    found = db.session.scalar(held.order_by(Assignment.starts_at).limit(1))
    if found is None:
        _refuse_off_duty(user_id, team_id, current)
    assignment = lock(Assignment, found.id)
    if assignment.user_id != user_id:  # moved to someone else while we waited
        raise NOT_ON_DUTY()
    return assignment


def _complete(assignment: Assignment, method: CheckinMethod,
              handed_over_by: int | None = None) -> dict[str, Any]:
    if assignment.status != AssignmentStatus.SCHEDULED:
        return {"result": "already_checked_in", "assignment": assignment,
                "points": assignment.points or 0}
    assignment.complete(now(), method, handed_over_by)
    return {"result": "ok", "assignment": assignment, "points": 0}


def _held_shifts(user_id: int, team_id: int | None):
    query = (select(Assignment).join(Roster, Roster.id == Assignment.roster_id)
             .where(Assignment.user_id == user_id, Roster.status == RosterStatus.PUBLISHED))
    return query if team_id is None else query.where(Assignment.team_id == team_id)


def _refuse_off_duty(user_id: int, team_id: int | None, current: datetime) -> None:
    nearby = db.session.scalar(_held_shifts(user_id, team_id).where(
        Assignment.starts_at < current + timedelta(hours=24),
        Assignment.ends_at > current - timedelta(hours=24)).order_by(Assignment.starts_at))
    if nearby is not None:
        opens = nearby.starts_at - timedelta(
            minutes=current_app.config["DUTY_CHECKIN_EARLY_MIN"])
        raise OUTSIDE_WINDOW(
            details={
            "opens_at": opens.astimezone(LOCAL_TZ).isoformat(),
            "closes_at": nearby.ends_at.astimezone(LOCAL_TZ).isoformat()},
        )
    raise NOT_ON_DUTY()


def _due(*conditions):
    return (select(Assignment).join(Roster, Roster.id == Assignment.roster_id)
            .where(Roster.status == RosterStatus.PUBLISHED,
                   Assignment.status == AssignmentStatus.SCHEDULED,
                   Assignment.user_id.is_not(None), *conditions)
            .order_by(Assignment.id).limit(SWEEP_BATCH))


def mark_missed_shifts() -> int:
    """Shifts that ended with no check-in become ``missed``; the leaders are told (flush)."""
    rows = lock_where(_due(Assignment.ends_at <= now()), skip_locked=True)
    for assignment in rows:
        assignment.mark_missed()
        team = db.session.get(Team, assignment.team_id)
        for leader in leader_ids(team.id):
            name = display_names(db.session.get(User, leader), team.community_id,
                                 [assignment.user_id])[assignment.user_id]
            notify(leader, "shift_reminder", f"{name} 未签到：{assignment.label}",
                   dedupe_key=f"duty_missed:{assignment.id}:{leader}",
                   data={"assignment_id": assignment.id}, page=SHIFTS_PAGE)
    db.session.flush()
    return len(rows)


def remind_upcoming_shifts() -> int:
    """Tell members of shifts starting within two hours (once per member and shift)."""
    current = now()
    rows = db.session.scalars(_due(Assignment.starts_at > current,
                                   Assignment.starts_at <= current + REMIND_BEFORE))
    return sum(notify(a.user_id, "shift_reminder", f"您的值班 {a.label} 即将开始",
                      dedupe_key=f"shift_reminder:{a.id}:{a.user_id}",
                      data={"assignment_id": a.id}, page=SHIFTS_PAGE)
               for a in list(rows))
