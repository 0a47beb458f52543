"""Door tablets replaying their offline queues at the same moment: one check-in, one gift, and a
conflict for every other tablet's write (SQLite and PostgreSQL)."""

import pytest
from sqlalchemy import event as sa_event, func, select

from extensions import db as _db
from models import checkin as ci, door, events as ev, gifts as g
from models.accounts import User
from models.audit import AuditEntry, audit
from models.base import OperationError, begin_write, new_token, undone_if_it_fails
from tests.factories import (make_customer, make_event, make_stocked_product, make_user,
                             make_warehouse)
from tests.races import race

TABLETS = 4


def test_tablets_replaying_at_once_write_one_check_in_and_one_gift(app, committed_db):
    manager, marketer = make_user(["manager"]), make_user(["marketer"])
    staff = [make_user(["event_staff"]) for _ in range(TABLETS)]
    warehouse = make_warehouse(kind="venue")
    event = make_event(manager)
    g.set_event_warehouse(event, warehouse, actor=manager)
    cup = make_stocked_product(warehouse, 10, is_gift=True, for_sale=False)
    g.save_rule(None, event=event, kind="attendance", product=cup, quantity=1, actor=manager)
    invitation = ev.invite(event, make_customer(marketer), actor=marketer)
    _db.session.commit()
    event_id, invitation_id = event.id, invitation.id
    outcomes = []

    def tablet(staff_id):
        for kind in ("check_in", "gift"):  # the tablet's queue, in order
            begin_write()
            outcome = door.replay_door_write(
                _db.session.get(ev.Event, event_id),
                door.DoorWrite(kind=kind, token=new_token(), invitation_id=invitation_id,
                               queued=True, device=f"T-{staff_id}"),
                actor=_db.session.get(User, staff_id))
            _db.session.commit()
            outcomes.append((kind, outcome.ok))

    assert race(tablet, [s.id for s in staff], app=app) == []
    _db.session.rollback()  # end the snapshot read before the tablets wrote
    assert sorted(outcomes) == sorted([("check_in", True), ("gift", True)]
                                      + [("check_in", False), ("gift", False)] * (TABLETS - 1))
    count = committed_db.session.scalar
    assert count(select(func.count(ci.CheckIn.id))) == 1
    assert count(select(func.count(g.GiftIssue.id))) == 1
    reasons = committed_db.session.scalars(select(door.DoorConflict.reason)).all()
    assert reasons == ["duplicate"] * (2 * (TABLETS - 1))


def _door_with_a_guest():
    manager, marketer, staff = make_user(["manager"]), make_user(["marketer"]), \
        make_user(["event_staff"])
    event = make_event(manager)
    invitation = ev.invite(event, make_customer(marketer), actor=marketer)
    _db.session.commit()
    return event.id, invitation.id, staff.id


def _queued_check_in(event_id, invitation_id, staff_id, token):
    return door.replay_door_write(
        _db.session.get(ev.Event, event_id),
        door.DoorWrite(kind="check_in", token=token, invitation_id=invitation_id, queued=True,
                       device="T-1"),
        actor=_db.session.get(User, staff_id))


def test_a_queued_check_in_sends_no_savepoint_when_nothing_was_written_before(committed_db):
    """The door's every write: the check-in is undone by rolling back the request's own
    transaction if it fails, so the happy path sends no SAVEPOINT and no RELEASE."""
    event_id, invitation_id, staff_id = _door_with_a_guest()
    sent = []
    listen = lambda conn, cursor, statement, *rest: sent.append(statement)  # noqa: E731
    sa_event.listen(_db.engine, "before_cursor_execute", listen)
    try:
        begin_write()
        outcome = _queued_check_in(event_id, invitation_id, staff_id, new_token())
        _db.session.commit()
    finally:
        sa_event.remove(_db.engine, "before_cursor_execute", listen)
    assert outcome.ok
    assert not [s for s in sent if "SAVEPOINT" in s.upper()]
    assert _db.session.scalar(select(func.count(ci.CheckIn.id))) == 1


def test_a_check_in_that_fails_after_its_write_leaves_only_the_conflict(committed_db,
                                                                        monkeypatch):
    """What an arrival earns fails after the check-in row was written: the row, the
    invitation's change and whatever else the work wrote are undone; the refusal is kept for
    every tablet to see, and the transaction still commits."""
    event_id, invitation_id, staff_id = _door_with_a_guest()

    def reward_fails(customer, event, *, actor, now):
        audit(actor, "test.reward", customer, now=now)
        _db.session.flush()
        raise OperationError("积分账户异常，请到服务台办理")
    monkeypatch.setattr(door, "_reward_arrival", reward_fails)
    begin_write()
    outcome = _queued_check_in(event_id, invitation_id, staff_id, token := new_token())
    _db.session.commit()
    assert (outcome.ok, outcome.message) == (False, "积分账户异常，请到服务台办理")
    count = _db.session.scalar
    assert count(select(func.count(ci.CheckIn.id))) == 0
    assert count(select(func.count(AuditEntry.id)).where(AuditEntry.action == "test.reward")) == 0
    assert _db.session.get(ev.Invitation, invitation_id).status == "invited"
    conflict = _db.session.scalar(select(door.DoorConflict))
    assert (conflict.token, conflict.reason, conflict.customer_id) == (
        token, "refused", _db.session.get(ev.Invitation, invitation_id).customer_id)


def test_work_after_a_write_is_undone_to_its_savepoint_only(committed_db):
    """undone_if_it_fails in a transaction that has written already: what came before stays."""
    staff_id = _door_with_a_guest()[2]
    begin_write()
    audit(None, "test.before", summary="kept")
    _db.session.flush()
    with pytest.raises(OperationError):
        with undone_if_it_fails():
            audit(None, "test.inside", summary="undone")
            _db.session.flush()
            raise OperationError("失败")
    _db.session.commit()
    actions = _db.session.scalars(select(AuditEntry.action).where(
        AuditEntry.action.like("test.%"))).all()
    assert actions == ["test.before"] and staff_id
