"""The one transaction model (``backend/common/transactions.py``), on SQLite and PostgreSQL:
a use case commits when it returns, and when it raises nothing of it persists — not its
change, not its audit row, not its outbox notice; a use case called inside another joins
the outer unit instead of committing half of it."""

from __future__ import annotations

import pytest
from sqlalchemy import event, func, select, text

from backend.common.audit import AuditEntry, audit
from backend.common.transactions import lock, lock_where, transactional, unit_of_work
from backend.communities.models import Community
from backend.errors import ApiError
from backend.extensions import db
from backend.notify.models import Notification
from backend.notify.services import notify


@pytest.fixture
def actor(make):
    return make.user()


def _write(actor_id: int, name: str) -> int:
    """A use case's three kinds of row: the change, its audit entry, its notice."""
    community = Community(name=name, street="和平街道")
    db.session.add(community)
    db.session.flush()
    audit(actor_id, community.id, "community.created", f"community:{community.id}", "测试")
    notify(actor_id, "activity_cancelled", f"{name} 的通知", dedupe_key=f"tx-test:{name}")
    return community.id


@transactional
def use_case(actor_id: int, name: str) -> int:
    return _write(actor_id, name)


@transactional
def refused_use_case(actor_id: int, name: str) -> int:
    _write(actor_id, name)
    raise ApiError("activity_ended", "活动已结束，不能发布")


def persisted(app, name: str) -> dict[str, int]:
    """What another session (a fresh app context) sees of the rows ``_write`` makes."""
    with app.app_context():
        ids = select(Community.id).where(Community.name == name)
        return {
            "communities": db.session.scalar(select(func.count()).select_from(
                Community).where(Community.name == name)),
            "audit": db.session.scalar(select(func.count()).select_from(AuditEntry).where(
                AuditEntry.community_id.in_(ids))),
            "outbox": db.session.scalar(select(func.count()).select_from(Notification).where(
                Notification.dedupe_key == f"tx-test:{name}")),
        }


NOTHING = {"communities": 0, "audit": 0, "outbox": 0}
ALL = {"communities": 1, "audit": 1, "outbox": 1}


def test_a_use_case_commits_when_it_returns(app, actor):
    with app.app_context():
        use_case(actor.id, "甲社区")
    assert persisted(app, "甲社区") == ALL


def test_a_refused_use_case_leaves_nothing_behind(app, actor):
    with app.app_context():
        with pytest.raises(ApiError):
            refused_use_case(actor.id, "乙社区")
        # The session is usable again, and the next unit commits on its own.
        use_case(actor.id, "丙社区")
    assert persisted(app, "乙社区") == NOTHING
    assert persisted(app, "丙社区") == ALL


def test_any_exception_rolls_back_not_only_refusals(app, actor):
    with app.app_context(), pytest.raises(ZeroDivisionError), unit_of_work():
        _write(actor.id, "丁社区")
        _ = 1 / 0
    assert persisted(app, "丁社区") == NOTHING


@pytest.fixture
def commits(app):
    """How many times the app context's session has committed so far."""
    with app.app_context():
        counted: list[int] = []
        event.listen(db.session(), "after_commit", lambda _session: counted.append(1))
        yield counted


def test_a_nested_use_case_joins_the_outer_unit(app, actor, commits):
    with pytest.raises(ApiError), unit_of_work():
        use_case(actor.id, "戊社区")  # returns, but must not commit on its own
        assert commits == []
        raise ApiError("activity_ended", "活动已结束，不能发布")
    assert persisted(app, "戊社区") == NOTHING


def test_the_outer_unit_commits_what_the_nested_ones_wrote(app, actor, commits):
    with unit_of_work():
        use_case(actor.id, "己社区")
        use_case(actor.id, "庚社区")
        assert commits == []
    assert commits == [1]
    assert persisted(app, "己社区") == ALL
    assert persisted(app, "庚社区") == ALL


def test_lock_reads_the_row_as_committed(app, make):
    community_id = make.community("辛社区")
    with app.app_context():
        session = db.session()
        session.expire_on_commit = False
        stale = session.get(Community, community_id)
        session.commit()  # ends the read (SQLite's write lock), keeps what was loaded
        # Another transaction renames it after this session loaded it.
        with db.engine.begin() as other:
            other.execute(text("UPDATE communities SET name = '壬社区' WHERE id = :id"),
                          {"id": community_id})
        assert stale.name == "辛社区"
        with unit_of_work():
            fresh = lock(Community, community_id)
            assert fresh is stale and fresh.name == "壬社区"
            assert lock(Community, community_id + 1000) is None
            assert [c.id for c in lock_where(select(Community).where(
                Community.id == community_id))] == [community_id]
