"""Activity reminders 24 h and 1 h before; cancelling an activity cancels them (SPEC §9)."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from redis import Redis
from rq import Queue

from backend.activities.reminders import reminder_job_id
from backend.common.clock import now
from backend.extensions import db
from backend.jobs import PRIORITY_QUEUE_NAME
from backend.notify.models import Notification
from backend.schedule import run_all


def scheduled(redis_url: str) -> dict[str, float]:
    connection = Redis.from_url(redis_url)
    registry = Queue(PRIORITY_QUEUE_NAME, connection=connection).scheduled_job_registry
    return {job_id: registry.get_scheduled_time(job_id).timestamp()
            for job_id in registry.get_job_ids()}


def reminders_of(app, user_id):
    with app.app_context():
        return [n.dedupe_key for n in db.session.query(Notification).filter_by(
            user_id=user_id, template_key="activity_reminder")]


def test_publishing_schedules_both_reminders_and_cancelling_removes_them(
        make, world, soon, redis_url):
    starts = now() + timedelta(hours=30)
    created = make.call("POST", f"/api/v1/teams/{world.team_a}/activities", world.leader_a,
                        json={"title": "义诊", "starts_at": starts.isoformat(),
                              "ends_at": (starts + timedelta(hours=2)).isoformat(),
                              "capacity": 5}).json
    make.call("POST", f"/api/v1/activities/{created['id']}/publish", world.leader_a)
    jobs = scheduled(redis_url)
    for lead, hours in (("24h", 24), ("1h", 1)):
        at = jobs[reminder_job_id(created["id"], lead)]
        assert abs(at - (starts - timedelta(hours=hours)).timestamp()) < 1
    make.call("POST", f"/api/v1/activities/{created['id']}/cancel", world.leader_a)
    assert not any(job.startswith(f"reminder-{created['id']}-") for job in scheduled(redis_url))


def test_reminders_go_to_confirmed_residents_once_each(app, make, world):
    starts = now() + timedelta(days=2)
    aid = make.activity(world.team_a, capacity=1, starts_at=starts)
    confirmed, waiting = world.resident_a, make.resident(world.a, "候补者")
    for person in (confirmed, waiting):
        make.call("POST", f"/api/v1/activities/{aid}/signups", person)
    with app.app_context():
        with time_machine.travel(starts - timedelta(hours=23)):
            run_all()
            run_all()  # a duplicated run changes nothing
        assert reminders_of(app, confirmed.id) == [f"activity_reminder:{aid}:{confirmed.id}:24h"]
        with time_machine.travel(starts - timedelta(minutes=30)):
            run_all()
    assert sorted(reminders_of(app, confirmed.id)) == [
        f"activity_reminder:{aid}:{confirmed.id}:1h", f"activity_reminder:{aid}:{confirmed.id}:24h"]
    assert reminders_of(app, waiting.id) == []


def test_a_missed_24h_reminder_is_not_sent_within_the_last_hour(app, make, world):
    starts = now() + timedelta(days=2)
    aid = make.activity(world.team_a, starts_at=starts)
    make.call("POST", f"/api/v1/activities/{aid}/signups", world.resident_a)
    with app.app_context(), time_machine.travel(starts - timedelta(minutes=40)):
        run_all()
    assert reminders_of(app, world.resident_a.id) == [
        f"activity_reminder:{aid}:{world.resident_a.id}:1h"]


def test_cancelled_activities_and_cancelled_signups_get_no_reminder(app, make, world):
    starts = now() + timedelta(days=2)
    cancelled = make.activity(world.team_a, starts_at=starts)
    left = make.activity(world.team_a2, starts_at=starts + timedelta(hours=3))
    for aid in (cancelled, left):
        make.call("POST", f"/api/v1/activities/{aid}/signups", world.resident_a)
    make.call("POST", f"/api/v1/activities/{cancelled}/cancel", world.leader_a)
    make.call("DELETE", f"/api/v1/activities/{left}/signups/me", world.resident_a)
    with app.app_context(), time_machine.travel(starts - timedelta(hours=20)):
        run_all()
    assert reminders_of(app, world.resident_a.id) == []
