"""Separation of duties as a property (issue 14): a hypothesis state machine plays the
people of one community — a resident, a leader, staff, a staff member who is also a
resident, and a leader who is also staff — doing anything the API lets them try, in any
order: scans, corrections, sign-offs, approvals, rate changes, roster edits, duty
check-ins, fees, adjustments and reversals.

After every step, whatever was refused or allowed: no transfer that mints points exists
without two different people on record, neither of them the resident who receives it;
and the ledger's invariants hold (every account sums to zero, stored balances equal the
entries, no resident below zero). Both are computed here from the tables, not asked of
the product."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from types import SimpleNamespace

import time_machine
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from backend.checkin.models import Attendance
from backend.common.clock import LOCAL_TZ
from backend.communities.models import TeamCategory, TeamMember, TeamRole
from backend.extensions import db
from backend.parking.models import Assignment
from backend.points.models import Account, Adjustment, Reversal, Transfer
from tests.checkin_support import personal_code, scan_body
from tests.conftest import wipe
from tests.parking_helpers import POST, tomorrow

PARTICIPANTS = ("resident", "leader", "staff_resident", "leader_staff")
EVERYONE = (*PARTICIPANTS, "staff")
# Who the honest paths pick: a leader or staff signs off, a staff member approves.
SIGNERS = ("leader", "staff", "leader_staff", "staff_resident")
STAFF = ("staff", "staff_resident", "leader_staff")
MINTING = ("issued", "adjustments", "expired")


def local(day, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), LOCAL_TZ)


def build_world(app, make) -> SimpleNamespace:
    """One community: the five people, a service team with two activities that overlap
    (07:00–09:00 and 08:00–10:00 tomorrow), a parking team whose 早班 (07:00–15:00) is
    every participant's, and its post."""
    w = SimpleNamespace()
    w.community = make.community()
    w.team = make.team(w.community)
    w.parking = make.team(w.community, TeamCategory.PARKING)
    w.people = {}
    w.people["staff"] = make.staff(w.community)
    w.people["resident"] = make.resident(w.community, "张三明")
    w.people["leader"] = make.member(w.team, w.community, TeamRole.LEADER, "王大力")
    w.people["staff_resident"] = make.resident(w.community, "钱进",
                                               make.staff(w.community))
    w.people["leader_staff"] = make.resident(w.community, "孙立",
                                             make.staff(w.community))
    make._save(TeamMember(team_id=w.team, user_id=w.people["leader_staff"].id,
                          role=TeamRole.LEADER))
    for name in PARTICIPANTS:
        role = TeamRole.LEADER if name == "leader" else TeamRole.MEMBER
        make._save(TeamMember(team_id=w.parking, user_id=w.people[name].id, role=role))
    day = tomorrow()
    w.during, w.after = local(day, 8, 30), local(day, 16)
    w.activities = [make.activity(w.team, starts_at=local(day, 7), ends_at=local(day, 9),
                                  walk_ins_allowed=True),
                    make.activity(w.team, starts_at=local(day, 8), ends_at=local(day, 10),
                                  walk_ins_allowed=True)]
    staff, leader = w.people["staff"], w.people["leader"]
    shift = [{"name": "早班", "start": "07:00", "end": "15:00", "needed": len(PARTICIPANTS)}]
    assert make.call("PUT", f"/api/v1/teams/{w.parking}/shift-templates", staff,
                     json={"shifts": shift, "points_per_shift": 8}).status_code == 200
    assert make.call("PUT", f"/api/v1/teams/{w.parking}/post", leader,
                     json={**POST, "radius_m": 100}).status_code == 200
    roster = make.call("POST", f"/api/v1/teams/{w.parking}/rosters", leader,
                       json={"from": day.isoformat(), "to": day.isoformat()}).json
    assert make.call("POST", f"/api/v1/rosters/{roster['id']}/publish",
                     leader).status_code == 200
    w.shifts = [a["id"] for a in roster["assignments"]]
    w.post_code = make.call("GET", f"/api/v1/teams/{w.parking}/post-code", leader).json["code"]
    w.month = f"{day:%Y-%m}"
    return w


def test_no_point_is_ever_minted_by_one_person(app, make):
    minted_runs = []  # the honest paths were reached too: the property is not vacuous

    class Community(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            wipe(app)
            self.w = build_world(app, make)
            self.clock = time_machine.travel(self.w.during, tick=False)
            self.traveller = self.clock.start()
            self.phase, self.steps = "during", 0

        def teardown(self) -> None:
            self.clock.stop()
            with app.app_context():
                reasons = set(db.session.scalars(select(Transfer.reason)))
            minted_runs.append(reasons)

        def call(self, method: str, path: str, who: str, **kwargs):
            self.steps += 1
            response = make.call(method, f"/api/v1{path}", self.w.people[who], **kwargs)
            assert response.status_code < 500, (method, path, response.json)
            return response

        def confirmed(self, model, approver: str, *where) -> list[int]:
            """What an honest clerk approves: signed off, and neither theirs nor signed
            off by them."""
            me = self.w.people[approver].id
            with app.app_context():
                return list(db.session.scalars(select(model.id).where(
                    model.status == "confirmed", model.user_id != me,
                    model.confirmed_by != me, *where).order_by(model.id)))

        def ids(self, model) -> list[int]:
            with app.app_context():
                return list(db.session.scalars(select(model.id).order_by(model.id)))

        # --- at the door and the post -------------------------------------------------

        @precondition(lambda self: self.phase == "during")
        @rule(scanner=st.sampled_from(EVERYONE), holder=st.sampled_from(PARTICIPANTS),
              activity=st.integers(0, 1), direction=st.sampled_from(["in", "out"]))
        def scan(self, scanner, holder, activity, direction):
            code = personal_code(app, self.w.people[holder].id)
            self.call("POST", f"/activities/{self.w.activities[activity]}/scans", scanner,
                      json=scan_body(code, direction))

        @precondition(lambda self: self.phase == "during")
        @rule(scanner=st.sampled_from(EVERYONE), holder=st.sampled_from(PARTICIPANTS),
              activity=st.integers(0, 1))
        def serve(self, scanner, holder, activity):
            """The honest path at the door: in, an hour's work, out."""
            self.scan(scanner, holder, activity, "in")
            self.traveller.shift(timedelta(minutes=60))
            self.scan(scanner, holder, activity, "out")
            self.traveller.shift(timedelta(minutes=-60))

        @precondition(lambda self: self.phase == "during")
        @rule(who=st.sampled_from(PARTICIPANTS))
        def duty_check_in(self, who):
            self.call("POST", "/duty/checkins", who,
                      json={"code": self.w.post_code, "location": POST})

        @precondition(lambda self: self.phase == "during")
        @rule(actor=st.sampled_from(EVERYONE), data=st.data(),
              to=st.sampled_from(PARTICIPANTS))
        def edit_roster(self, actor, data, to):
            shift = data.draw(st.sampled_from(self.w.shifts))
            self.call("PATCH", f"/assignments/{shift}", actor,
                      json={"user_id": self.w.people[to].id})

        @precondition(lambda self: self.phase == "during" and self.steps >= 8)
        @rule()
        def end_of_day(self):
            self.clock.stop()
            self.clock = time_machine.travel(self.w.after, tick=False)
            self.clock.start()
            self.phase = "after"

        # --- rates ---------------------------------------------------------------------

        @rule(actor=st.sampled_from(EVERYONE), activity=st.integers(0, 1),
              rate=st.sampled_from([5, 30, 1000]))
        def change_activity_rate(self, actor, activity, rate):
            self.call("PATCH", f"/activities/{self.w.activities[activity]}", actor,
                      json={"points_per_hour": rate})

        @rule(actor=st.sampled_from(EVERYONE), rate=st.sampled_from([10, 25, 500]))
        def change_community_rate(self, actor, rate):
            self.call("PATCH", f"/communities/{self.w.community}", actor,
                      json={"points_per_hour": rate})

        @rule(actor=st.sampled_from(EVERYONE), points=st.sampled_from([3, 40, 1000]))
        def change_duty_rate(self, actor, points):
            shift = [{"name": "早班", "start": "07:00", "end": "15:00",
                      "needed": len(PARTICIPANTS)}]
            self.call("PUT", f"/teams/{self.w.parking}/shift-templates", actor,
                      json={"shifts": shift, "points_per_shift": points})

        # --- after the day: corrections, sign-offs, approvals ------------------------

        @precondition(lambda self: self.phase == "after")
        @rule(actor=st.sampled_from(EVERYONE), data=st.data(),
              minutes=st.sampled_from([0, 60, 150, 1440]))
        def correct(self, actor, data, minutes):
            rows = self.ids(Attendance)
            if rows:
                row = data.draw(st.sampled_from(rows))
                self.call("PATCH", f"/attendances/{row}", actor,
                          json={"minutes": minutes, "reason": "更正"})

        @precondition(lambda self: self.phase == "after")
        @rule(confirmer=st.sampled_from(SIGNERS), approver=st.sampled_from(STAFF),
              activity=st.integers(0, 1))
        def sign_off_and_approve(self, confirmer, approver, activity):
            """The honest path after the day: fix missing exits, sign off, approve."""
            aid = self.w.activities[activity]
            with app.app_context():
                rows = db.session.execute(select(Attendance.id, Attendance.status,
                                                 Attendance.checked_out_at).where(
                    Attendance.activity_id == aid)).all()
            for row_id, status, out in rows:
                if status == "open" and out is None:
                    self.call("PATCH", f"/attendances/{row_id}", confirmer,
                              json={"minutes": 60, "reason": "补签退"})
            self.call("POST", f"/activities/{aid}/attendances/confirm", confirmer)
            confirmed = self.confirmed(Attendance, approver, Attendance.activity_id == aid)
            if confirmed:
                self.call("POST", "/attendances/approve", approver, json={"ids": confirmed})

        @precondition(lambda self: self.phase == "after")
        @rule(confirmer=st.sampled_from(SIGNERS), approver=st.sampled_from(STAFF))
        def sign_off_and_approve_duty(self, confirmer, approver):
            self.call("POST", f"/teams/{self.w.parking}/duty/confirm", confirmer,
                      json={"month": self.w.month})
            confirmed = self.confirmed(Assignment, approver,
                                       Assignment.team_id == self.w.parking)
            if confirmed:
                self.call("POST", "/duty/approve", approver, json={"ids": confirmed})

        @precondition(lambda self: self.phase == "after")
        @rule(actor=st.sampled_from(EVERYONE), activity=st.integers(0, 1))
        def confirm(self, actor, activity):
            self.call("POST", f"/activities/{self.w.activities[activity]}/attendances/confirm",
                      actor)

        @precondition(lambda self: self.phase == "after")
        @rule(actor=st.sampled_from(EVERYONE), data=st.data())
        def approve(self, actor, data):
            rows = self.ids(Attendance)
            if rows:
                chosen = data.draw(st.lists(st.sampled_from(rows), min_size=1, max_size=3))
                self.call("POST", "/attendances/approve", actor, json={"ids": chosen})

        @precondition(lambda self: self.phase == "after")
        @rule(actor=st.sampled_from(EVERYONE))
        def confirm_duty(self, actor):
            self.call("POST", f"/teams/{self.w.parking}/duty/confirm", actor,
                      json={"month": self.w.month})

        @precondition(lambda self: self.phase == "after")
        @rule(actor=st.sampled_from(EVERYONE), data=st.data())
        def approve_duty(self, actor, data):
            chosen = data.draw(st.lists(st.sampled_from(self.w.shifts), min_size=1,
                                        max_size=2))
            self.call("POST", "/duty/approve", actor, json={"ids": chosen})

        # --- fees, adjustments and reversals, at any time -----------------------------

        @rule(actor=st.sampled_from(EVERYONE), amount=st.sampled_from(["50.00", "5000.00"]),
              plate=st.sampled_from(["鄂A00001", "鄂A00002"]))
        def record_fee(self, actor, amount, plate):
            self.call("POST", f"/teams/{self.w.parking}/fees", actor,
                      json={"plate": plate, "period": self.w.month, "amount": amount})

        @rule(actor=st.sampled_from(EVERYONE), whom=st.sampled_from(PARTICIPANTS),
              amount=st.sampled_from([-20, 7, 500]))
        def request_adjustment(self, actor, whom, amount):
            self.call("POST", f"/communities/{self.w.community}/points/adjustments", actor,
                      json={"user_id": self.w.people[whom].id, "amount": amount,
                            "reason": "调整"})

        @rule(actor=st.sampled_from(EVERYONE), data=st.data())
        def approve_adjustment(self, actor, data):
            rows = self.ids(Adjustment)
            if rows:
                self.call("POST", f"/points/adjustments/{data.draw(st.sampled_from(rows))}"
                          "/approve", actor)

        @rule(actor=st.sampled_from(EVERYONE), data=st.data())
        def request_reversal(self, actor, data):
            rows = self.ids(Transfer)
            if rows:
                self.call("POST", f"/points/transfers/{data.draw(st.sampled_from(rows))}"
                          "/reversals", actor, json={"reason": "冲正"})

        @rule(actor=st.sampled_from(EVERYONE), data=st.data())
        def approve_reversal(self, actor, data):
            rows = self.ids(Reversal)
            if rows:
                self.call("POST", f"/points/reversals/{data.draw(st.sampled_from(rows))}"
                          "/approve", actor)

        # --- what must hold after every step ------------------------------------------

        @invariant()
        def no_point_minted_by_one_person(self):
            source, target = aliased(Account), aliased(Account)
            with app.app_context():
                rows = db.session.execute(
                    select(Transfer.id, Transfer.prepared_by, Transfer.author_id,
                           target.user_id)
                    .join(source, source.id == Transfer.from_account_id)
                    .join(target, target.id == Transfer.to_account_id)
                    .where(target.kind == "resident", source.kind.in_(MINTING))).all()
            for transfer_id, first, second, beneficiary in rows:
                assert first is not None and second is not None, transfer_id
                assert first != second, transfer_id
                assert beneficiary not in (first, second), transfer_id

        @invariant()
        def ledger_balances(self):
            with app.app_context():
                accounts = db.session.execute(select(Account.id, Account.kind,
                                                     Account.balance)).all()
                incoming = dict(db.session.execute(select(
                    Transfer.to_account_id, func.sum(Transfer.amount))
                    .group_by(Transfer.to_account_id)).all())
                outgoing = dict(db.session.execute(select(
                    Transfer.from_account_id, func.sum(Transfer.amount))
                    .group_by(Transfer.from_account_id)).all())
            entries = {a.id: (incoming.get(a.id) or 0) - (outgoing.get(a.id) or 0)
                       for a in accounts}
            assert sum(entries.values()) == 0
            assert all(entries[a.id] == a.balance for a in accounts)
            assert all(a.balance >= 0 for a in accounts if a.kind == "resident")

        @invariant()
        def each_attendance_and_shift_is_paid_once(self):
            with app.app_context():
                refs = db.session.scalars(select(Transfer.ref).where(
                    Transfer.reason.in_(("service", "duty")),
                    Transfer.reverses_id.is_(None))).all()
                shifts = db.session.scalars(select(Assignment.id)).all()
            assert len(refs) == len(set(refs))
            assert len(shifts) == len(self.w.shifts)

    run_state_machine_as_test(Community, settings=settings(
        max_examples=40, stateful_step_count=60, deadline=None, derandomize=True,
        database=None, suppress_health_check=list(HealthCheck)))
    reached = set().union(*minted_runs)
    assert {"service", "duty", "adjust"} <= reached, reached
