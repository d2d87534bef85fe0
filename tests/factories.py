"""Small factories: people with tokens, communities, teams and activities."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from backend.activities.models import Activity, ActivityStatus
from backend.auth.models import User
from backend.auth.services import issue_token
from backend.common.clock import now
from backend.communities.models import (
    Community,
    Resident,
    StaffMember,
    Team,
    TeamCategory,
    TeamMember,
    TeamRole,
)
from backend.extensions import db

_serial = itertools.count(1)


@dataclass
class Person:
    id: int
    openid: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class Factory:
    def __init__(self, app, client) -> None:
        self.app = app
        self.client = client

    def call(self, method: str, path: str, who: Person | None = None, **kwargs):
        headers = {**kwargs.pop("headers", {}), **(who.headers if who else {})}
        return self.client.open(path, method=method, headers=headers, **kwargs)

    def _save(self, obj):
        with self.app.app_context():
            db.session.add(obj)
            db.session.commit()
            return obj.id

    def user(self, openid: str | None = None, nickname: str = "邻居") -> Person:
        openid = openid or f"o-user-{next(_serial)}"
        with self.app.app_context():
            user = User(openid=openid, nickname=nickname)
            db.session.add(user)
            db.session.commit()
            return Person(user.id, openid, issue_token(user))

    def relogin(self, person: Person) -> Person:
        """A fresh token (tokens expire; tests that travel weeks ahead log in again)."""
        with self.app.app_context():
            return Person(person.id, person.openid, issue_token(db.session.get(User, person.id)))

    def community(self, name: str = "幸福里社区", street: str = "和平街道") -> int:
        return self._save(Community(name=name, street=street))

    def staff(self, community_id: int) -> Person:
        person = self.user()
        self._save(StaffMember(community_id=community_id, user_id=person.id))
        return person

    def resident(self, community_id: int, real_name: str = "张三明", person: Person | None = None,
                 phone: str | None = None) -> Person:
        person = person or self.user()
        self._save(Resident(user_id=person.id, community_id=community_id, real_name=real_name,
                            building="3", unit="2", room="501"))
        return person

    def team(self, community_id: int, category: TeamCategory = TeamCategory.SERVICE) -> int:
        return self._save(Team(community_id=community_id, name=f"志愿队{next(_serial)}",
                               category=category))

    def member(self, team_id: int, community_id: int, role: TeamRole = TeamRole.MEMBER,
               real_name: str = "李四光") -> Person:
        person = self.resident(community_id, real_name)
        self._save(TeamMember(team_id=team_id, user_id=person.id, role=role))
        return person

    def activity(self, team_id: int, published: bool = True, **fields: Any) -> int:
        """An activity straight in the database (API creation is tested on its own)."""
        with self.app.app_context():
            team = db.session.get(Team, team_id)
            starts = fields.pop("starts_at", now() + timedelta(days=2))
            values = {"title": "社区清洁日", "starts_at": starts,
                      "ends_at": fields.pop("ends_at", starts + timedelta(hours=2)),
                      "capacity": 30, **fields}
            creator = db.session.query(User.id).order_by(User.id).limit(1).scalar()
            activity = Activity(team_id=team_id, community_id=team.community_id,
                                created_by=creator, status=ActivityStatus.PUBLISHED
                                if published else ActivityStatus.DRAFT, **values)
            db.session.add(activity)
            db.session.commit()
            return activity.id

    def world(self) -> SimpleNamespace:
        w = SimpleNamespace()
        w.admin = self.user("o-admin-street")
        w.a, w.b = self.community("幸福里社区"), self.community("光明社区")
        w.staff_a, w.staff_b = self.staff(w.a), self.staff(w.b)
        w.team_a, w.team_b = self.team(w.a), self.team(w.b)
        w.team_a2 = self.team(w.a)
        w.leader_a = self.member(w.team_a, w.a, TeamRole.LEADER, "王大力")
        w.leader_a2 = self.member(w.team_a2, w.a, TeamRole.LEADER, "赵小红")
        w.leader_b = self.member(w.team_b, w.b, TeamRole.LEADER, "孙悟空")
        w.resident_a = self.resident(w.a, "张三明")
        w.resident_b = self.resident(w.b, "陈一")
        w.outsider = self.user()
        return w
