"""Check-in: once per invitation and per token, seating, walk-ins, the live board."""

import pytest
from sqlalchemy import func, select

from extensions import db as _db
from models import checkin as ci, door as dr, events as ev
from models.base import Conflict, InvalidInput, NotFound, new_token
from models.customers import DuplicateCustomer, release_to_pool
from tests.conftest import is_postgres
from tests.factories import make_customer, make_event, make_user
from tests.races import race


@pytest.fixture
def door(db):
    manager = make_user(["manager"])
    staff = make_user(["event_staff"])
    marketer = make_user(["marketer"])
    event = make_event(manager, title="养生讲座")
    ev.set_event_staff(event, [staff], actor=manager)
    return event, staff, marketer, manager


def invite(event, marketer, name="张三", **kw):
    invitation = ev.invite(event, make_customer(marketer, name=name, **kw), actor=marketer)
    ev.change_invitation(invitation, "confirmed", actor=marketer)
    return invitation


def count(db, model=ci.CheckIn):
    return db.session.scalar(select(func.count()).select_from(model))


def test_check_in_once_by_token_and_by_invitation(db, door):
    event, staff, marketer, _ = door
    invitation = invite(event, marketer)
    token = new_token()
    first = ci.check_in(event, invitation, actor=staff, token=token)
    assert ci.check_in(event, invitation, actor=staff, token=token) is first  # double tap
    with pytest.raises(ci.AlreadyCheckedIn, match="已于 .* 由 .* 签到"):
        ci.check_in(event, invitation, actor=staff, token=new_token())  # another tablet
    assert count(db) == 1 and invitation.status == "attended"
    assert event.status == "in_progress"  # the first arrival starts the event


def test_a_check_in_writes_the_row_the_status_and_the_history_line(db, door):
    event, staff, marketer, _ = door
    invitation = invite(event, marketer)
    token = new_token()
    record = dr.check_in(event, invitation, actor=staff, token=token, companions=2)
    assert not (db.session.new or db.session.dirty)  # written already, nothing left to flush
    db.session.expire_all()
    fresh = db.session.get(ci.CheckIn, record.id)
    assert (fresh.invitation_id, fresh.customer_id, fresh.companions, fresh.by_id,
            fresh.token) == (invitation.id, invitation.customer_id, 2, staff.id, token)
    assert db.session.get(ev.Invitation, invitation.id).status == "attended"
    change = db.session.scalars(select(ev.InvitationChange).where(
        ev.InvitationChange.invitation_id == invitation.id)
        .order_by(ev.InvitationChange.id.desc())).first()
    assert (change.from_status, change.to_status, change.actor_id) == \
        ("confirmed", "attended", staff.id)
    assert "2" in change.note


def test_the_same_form_after_the_door_closed_still_answers_with_its_check_in(db, door):
    event, staff, marketer, manager = door
    invitation = invite(event, marketer)
    token = new_token()
    first = ci.check_in(event, invitation, actor=staff, token=token)
    ev.change_event_status(event, "closed", actor=manager)
    assert ci.check_in(event, invitation, actor=staff, token=token) is first  # a late retry
    with pytest.raises(Conflict, match="不能签到"):
        ci.check_in(event, invitation, actor=staff, token=new_token())


def test_a_guest_already_in_is_told_so_even_at_a_full_table(db, door):
    event, staff, marketer, manager = door
    table = ev.save_table(event, number=1, seats=1, actor=manager)
    one, two = invite(event, marketer, name="甲"), invite(event, marketer, name="乙")
    ci.check_in(event, one, actor=staff, token=new_token(), table=table)
    ci.check_in(event, two, actor=staff, token=new_token())
    with pytest.raises(ci.AlreadyCheckedIn, match="乙"):
        ci.check_in(event, two, actor=staff, token=new_token(), table=table)
    assert count(db) == 2


def test_scan_finds_the_card_of_this_event_only(db, door):
    event, staff, marketer, manager = door
    invitation = invite(event, marketer)
    other = make_event(manager, title="别的场次")
    other_invitation = invite(other, marketer, name="李四")
    for code in (other_invitation.token, invitation.token[:-2] + "xx", "", "<script>"):
        with pytest.raises(NotFound, match="不属于本场会议"):
            dr.check_in_by_card(event, code, actor=staff, token=new_token())
    record = dr.check_in_by_card(event, invitation.token, actor=staff, token=new_token())
    assert record.invitation is invitation and count(db) == 1


def test_declined_and_closed_are_refused(db, door):
    event, staff, marketer, manager = door
    declined = invite(event, marketer, name="拒绝者")
    ev.change_invitation(declined, "declined", actor=marketer)
    with pytest.raises(Conflict, match="已拒绝"):
        ci.check_in(event, declined, actor=staff, token=new_token())
    late = invite(event, marketer, name="迟到者")
    ev.change_event_status(event, "in_progress", actor=manager)
    ev.change_event_status(event, "closed", actor=manager)
    with pytest.raises(Conflict, match="不能签到"):
        ci.check_in(event, late, actor=staff, token=new_token())
    assert count(db) == 0


def test_find_at_door_by_tail_name_initials_and_token(db, door):
    event, _, marketer, _ = door
    a = invite(event, marketer, name="张秀兰", phone="13800138000")
    invite(event, marketer, name="王桂英", phone="13900001111")
    make_customer(marketer, name="张未邀", phone="13700008000")  # not invited: never shown
    assert [i.customer.name for i in ci.find_at_door(event, "8000")] == ["张秀兰"]
    assert [i.customer.name for i in ci.find_at_door(event, "zxl")] == ["张秀兰"]
    assert [i.customer.name for i in ci.find_at_door(event, "张")] == ["张秀兰"]
    assert ci.find_at_door(event, a.token) == [a]
    assert ci.find_at_door(event, "") == []


def test_full_table_needs_the_override(db, door):
    event, staff, marketer, manager = door
    table = ev.save_table(event, number=1, seats=3, actor=manager)
    one, two = invite(event, marketer, name="甲"), invite(event, marketer, name="乙")
    ci.check_in(event, one, actor=staff, token=new_token(), companions=1, table=table)
    with pytest.raises(Conflict, match="已满"):
        ci.check_in(event, two, actor=staff, token=new_token(), companions=1, table=table)
    ci.check_in(event, two, actor=staff, token=new_token(), companions=1, table=table,
                override=True)
    assert ci.seats_taken(table) == 4


def test_walk_in_registers_and_checks_in_in_one_step(db, door):
    event, staff, marketer, _ = door
    referrer = make_customer(marketer, name="老介绍人")
    record = dr.register_walk_in(event, name="新来宾", phone="13812345678", actor=staff,
                                 token=new_token(), referrer=referrer, companions=1)
    customer = record.invitation.customer
    assert customer.owner is marketer and customer.referrer_id == referrer.id
    assert record.invitation.is_walk_in and record.companions == 1
    with pytest.raises(DuplicateCustomer) as caught:
        dr.register_walk_in(event, name="同号", phone="13812345678", actor=staff,
                            token=new_token(), owner=marketer)
    assert caught.value.existing is customer
    with pytest.raises(InvalidInput, match="归属业务员"):
        dr.register_walk_in(event, name="无主", phone="13812340000", actor=staff,
                            token=new_token())


def test_walk_in_of_a_pool_customer_leaves_them_in_the_pool(db, door):
    event, staff, marketer, manager = door
    pooled = make_customer(make_user(["marketer"]), name="公海客", phone="13811112222")
    release_to_pool([pooled.id], actor=manager, reason="整理")
    record = dr.register_walk_in(event, name="", phone="", actor=staff, token=new_token(),
                                 existing=pooled)
    assert pooled.status == "pool" and pooled.owner_id is None  # a marketer claims them
    assert record.invitation.customer is pooled and record.invitation.is_walk_in
    assert record.invitation.inviter_id == staff.id


def test_a_known_customer_walks_in_as_a_guest_of_their_own_marketer(db, door):
    event, staff, marketer, manager = door
    known = make_customer(marketer, name="老顾客", phone="13811113333")
    referrer = make_customer(make_user(["marketer"]), name="介绍人")
    record = dr.register_walk_in(event, name="", phone="", actor=staff, token=new_token(),
                                 existing=known, referrer=referrer,
                                 owner=make_user(["marketer"]), companions=2)
    invitation = record.invitation
    assert (invitation.customer, invitation.inviter_id, invitation.is_walk_in) == (
        known, marketer.id, True)
    assert known.owner is marketer and known.referrer_id is None  # the referrer does not apply
    assert record.companions == 2


def test_an_arrival_without_a_table_is_seated_at_their_marketers(db, door):
    event, staff, marketer, manager = door
    other = make_user(["marketer"])
    theirs = ev.save_table(event, number=1, seats=10, host=other, actor=manager)
    mine = ev.save_table(event, number=2, seats=3, host=marketer, actor=manager)
    walk_in = dr.register_walk_in(event, name="新来宾", phone="13812345671", actor=staff,
                                  token=new_token(), owner=marketer, companions=1)
    assert walk_in.invitation.table == mine and ci.summary(walk_in)["table"] == "2 号桌"
    second = dr.register_walk_in(event, name="又一位", phone="13812345672", actor=staff,
                                 token=new_token(), owner=marketer, companions=1)
    assert second.invitation.table == theirs  # 2 号桌 has one seat left: the party moves on
    assert theirs.id != mine.id


def test_companions_above_the_setting_are_refused_and_nothing_is_written(db, door):
    from models.settings import update_settings
    event, staff, marketer, manager = door
    invitation = invite(event, marketer)
    with pytest.raises(InvalidInput, match="最多带 5 位同行"):
        ci.check_in(event, invitation, actor=staff, token=new_token(), companions=6)
    with pytest.raises(InvalidInput, match="最多带 5 位同行"):
        dr.register_walk_in(event, name="新来宾", phone="13812345670", actor=staff,
                            token=new_token(), owner=marketer, companions=6)
    assert count(db) == 0
    update_settings({"checkin.max_companions": 2}, actor=make_user(["admin"]))
    with pytest.raises(InvalidInput, match="最多带 2 位同行"):
        ci.check_in(event, invitation, actor=staff, token=new_token(), companions=3)
    ci.check_in(event, invitation, actor=staff, token=new_token(), companions=2)
    assert count(db) == 1


def test_live_board_counts_after_fifty_check_ins(db, door):
    event, staff, marketer, _ = door
    other = make_user(["marketer"])
    invitations = [invite(event, marketer if i % 2 else other, name=f"客{i}")
                   for i in range(60)]
    for invitation in invitations[:50]:
        ci.check_in(event, invitation, actor=staff, token=new_token(), companions=1)
    dr.register_walk_in(event, name="临时", phone="13899990000", actor=staff,
                        token=new_token(), owner=marketer)
    board = ci.board(event)
    assert board["total"]["arrived"] == 51 and board["total"]["companions"] == 50
    assert board["total"]["confirmed"] == 60 and board["total"]["walk_ins"] == 1
    assert board["total"]["invited"] == 61 and board["total"]["rate"] == 83  # 50 of 60
    assert len(board["missing"]) == 10
    assert sum(line["arrived"] for line in board["lines"]) == 51


@pytest.mark.skipif(not is_postgres(), reason="row-level races are proven on PostgreSQL")
def test_two_tablets_checking_in_the_same_guest_at_once_make_one_check_in(app,
                                                                          committed_db):
    manager, staff, marketer = (make_user(["manager"]), make_user(["event_staff"]),
                                make_user(["marketer"]))
    event = make_event(manager)
    invitation = invite(event, marketer)
    committed_db.session.commit()
    event_id, invitation_id, staff_id = event.id, invitation.id, staff.id
    outcomes = []

    def tablet(_n):
        from models.accounts import User
        actor = _db.session.get(User, staff_id)
        e = _db.session.get(ev.Event, event_id)
        i = _db.session.get(ev.Invitation, invitation_id)
        try:
            ci.check_in(e, i, actor=actor, token=new_token())
        except ci.AlreadyCheckedIn:
            outcomes.append("already")
            return
        _db.session.commit()
        outcomes.append("checked in")

    errors = race(tablet, range(8), app=app, timeout=30)
    assert errors == []
    assert sorted(outcomes) == ["already"] * 7 + ["checked in"], outcomes
    assert committed_db.session.scalar(select(func.count(ci.CheckIn.id))) == 1


def test_walk_in_referrer_by_mobile(db, door):
    event, staff, marketer, _ = door
    referrer = make_customer(marketer, name="老顾客", phone="13800001234")
    record = dr.register_walk_in(event, name="朋友", phone="13800004321", actor=staff,
                                 token=new_token(), referrer_phone="138 0000 1234")
    assert record.invitation.customer.referrer_id == referrer.id
    assert record.invitation.customer.owner is marketer
    with pytest.raises(InvalidInput, match="没有顾客使用这个介绍人手机号"):
        dr.register_walk_in(event, name="另一位", phone="13800005555", actor=staff,
                            token=new_token(), referrer_phone="13900000000")
