"""Door tablets replaying their offline queues at the same moment: one check-in, one gift, and a
conflict for every other tablet's write (SQLite and PostgreSQL)."""

from sqlalchemy import func, select

from extensions import db as _db
from models import checkin as ci, door, events as ev, gifts as g
from models.accounts import User
from models.base import begin_write, new_token
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
