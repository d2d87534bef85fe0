"""The volunteer record and the volunteer service certificate (志愿服务证明, SPEC §5).

A certificate is a snapshot of approved service, signed with the server's Ed25519 key
(domain-separated from check-in codes). Anyone holding the paper can look its
verification code up at a public URL: the page shows what was certified and whether the
stored snapshot still matches its signature, so neither the paper nor the database row
can be altered without the check failing.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from sqlalchemy import select

from backend.activities.models import Activity
from backend.auth.models import User
from backend.checkin import codes
from backend.checkin.certificate_pdf import render
from backend.checkin.models import Attendance, AttendanceStatus, Certificate
from backend.common.clock import LOCAL_TZ, now
from backend.common.transactions import transactional
from backend.communities import access
from backend.communities.models import Community, Resident, Team
from backend.extensions import db
from backend.refusals import NOT_FOUND

CONTEXT = b"linli-certificate-v1:"
_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read aloud over the phone


def service_record(user_id: int, since: datetime | None = None,
                   until: datetime | None = None) -> dict[str, Any]:
    """All approved service of a resident: activity, team, date, hours, approver."""
    query = (select(Attendance, Activity, Team.name)
             .join(Activity, Activity.id == Attendance.activity_id)
             .join(Team, Team.id == Activity.team_id)
             .where(Attendance.user_id == user_id,
                    Attendance.status == AttendanceStatus.APPROVED)
             .order_by(Activity.starts_at, Attendance.id))
    if since is not None:
        query = query.where(Activity.starts_at >= since)
    if until is not None:
        query = query.where(Activity.starts_at < until)
    rows = db.session.execute(query).all()
    approvers = _names({a.decided_by for a, _, _ in rows})
    items = [_entry(attendance, activity, team, approvers) for attendance, activity, team in rows]
    total = sum(item["minutes"] for item in items)
    return {"user_id": user_id, "total_minutes": total, "total_hours": round(total / 60, 2),
            "items": items}


def my_record(user: User, since: datetime | None, until: datetime | None) -> dict[str, Any]:
    return service_record(user.id, since, until)


@transactional
def issue(actor: User, community_id: int, user_id: int, since: datetime | None,
          until: datetime | None) -> Certificate:
    access.require_staff(actor, community_id)
    resident = db.session.scalar(select(Resident).where(
        Resident.user_id == user_id, Resident.community_id == community_id))
    if resident is None:
        raise NOT_FOUND.saying("找不到该居民")
    community = db.session.get(Community, community_id)
    record = service_record(user_id, since, until)
    content = {
        "title": "志愿服务证明",
        "community": community.name,
        "street": community.street,
        "volunteer": resident.real_name,
        "volunteer_masked": access.mask_name(resident.real_name),
        "period": {"from": _iso(since), "to": _iso(until)},
        "total_minutes": record["total_minutes"],
        "total_hours": record["total_hours"],
        "items": [{**item, "date": item["date"].isoformat(),
                   "starts_at": _iso(item["starts_at"]), "ends_at": _iso(item["ends_at"]),
                   "approved_at": _iso(item["approved_at"])} for item in record["items"]],
        "issued_at": now().astimezone(LOCAL_TZ).isoformat(),
        "issued_by": _names({actor.id})[actor.id],
    }
    certificate = Certificate(community_id=community_id, user_id=user_id,
                              verification_code=_new_code(), content=content,
                              signature=_sign(content), issued_by=actor.id)
    db.session.add(certificate)
    return certificate


def get_for_viewer(actor: User, certificate_id: int) -> Certificate:
    certificate = db.session.get(Certificate, certificate_id)
    if certificate is None or not (certificate.user_id == actor.id
                                   or access.is_staff_of(actor, certificate.community_id)):
        raise NOT_FOUND.saying("找不到该证明")
    return certificate


def check(verification_code: str) -> dict[str, Any]:
    """The public check: whether the certificate is intact, and what a verifier compares
    with the paper — the masked name, the issuing community, the dates and hours; not who
    approved or issued it, not points, not internal ids."""
    raw = verification_code.replace("-", "").upper()
    normalised = "-".join(raw[i:i + 4] for i in range(0, len(raw), 4))
    certificate = db.session.scalar(select(Certificate).where(
        Certificate.verification_code == normalised))
    if certificate is None:
        return {"valid": False, "verification_code": normalised, "content": None,
                "detail": "查无此证明编号"}
    intact = _verify(certificate.content, certificate.signature)
    return {"valid": intact, "verification_code": normalised,
            "content": public_content(certificate.content),
            "detail": "证明真实有效" if intact else "证明内容与签名不符，可能已被篡改"}


def public_content(content: dict[str, Any]) -> dict[str, Any]:
    return {
        "title": content["title"], "volunteer_masked": content["volunteer_masked"],
        "community": content["community"], "street": content["street"],
        "period": content["period"], "total_minutes": content["total_minutes"],
        "total_hours": content["total_hours"], "issued_at": content["issued_at"],
        "items": [{"date": item["date"], "minutes": item["minutes"], "hours": item["hours"]}
                  for item in content["items"]],
    }


def pdf(certificate: Certificate, verify_url: str) -> bytes:
    return render(certificate.content, certificate.verification_code, verify_url)


def _entry(attendance: Attendance, activity: Activity, team: str,
           approvers: dict[int, str]) -> dict[str, Any]:
    return {
        "attendance_id": attendance.id, "activity_id": activity.id, "activity": activity.title,
        "team": team, "date": activity.starts_at.astimezone(LOCAL_TZ).date(),
        "starts_at": activity.starts_at, "ends_at": activity.ends_at,
        "minutes": attendance.minutes, "hours": round(attendance.minutes / 60, 2),
        "approver": approvers.get(attendance.decided_by, ""),
        "approved_at": attendance.decided_at, "points": attendance.points,
    }


def _names(user_ids: set[int | None]) -> dict[int, str]:
    ids = [uid for uid in user_ids if uid is not None]
    residents = dict(db.session.execute(
        select(Resident.user_id, Resident.real_name).where(Resident.user_id.in_(ids))).all())
    users = dict(db.session.execute(select(User.id, User.nickname).where(User.id.in_(ids))).all())
    return {uid: residents.get(uid) or users.get(uid) or f"用户{uid}" for uid in ids}


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(LOCAL_TZ).isoformat() if value is not None else None


def _canonical(content: dict[str, Any]) -> bytes:
    return json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def content_digest(content: dict[str, Any]) -> str:
    return hashlib.sha256(_canonical(content)).hexdigest()


def _sign(content: dict[str, Any]) -> str:
    signature = codes.private_key().sign(CONTEXT + _canonical(content))
    return base64.b64encode(signature).decode()


def _verify(content: dict[str, Any], signature: str) -> bool:
    try:
        codes.public_key().verify(base64.b64decode(signature), CONTEXT + _canonical(content))
    except (InvalidSignature, ValueError):
        return False
    return True


def _new_code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(16))
    return "-".join(raw[i:i + 4] for i in range(0, 16, 4))

