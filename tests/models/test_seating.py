"""Seating: capacity in people, a planned table by the inviter, overflow, parties kept together,
moves by hand (a full table refused, a manager's override recorded), re-planning, the room."""
import pytest
from sqlalchemy import func, select

from extensions import db as _db
from models import checkin as ci, events as ev, seating as st
from models.audit import AuditEntry
from models.base import Conflict, InvalidInput, PermissionDenied, new_token
from tests.conftest import is_postgres
from tests.factories import make_customer, make_event, make_user
from tests.races import race


@pytest.fixture
def room(db):
    """An open event; two marketers, 王 hosting tables 1 (4 seats) and 2 (4 seats), 李 hosting
    table 3 (6 seats); table 4 (4 seats) has no host."""
    manager = make_user(["manager"])
    wang, li = make_user(["marketer"], display_name="王"), make_user(["marketer"],
                                                                     display_name="李")
    event = make_event(manager, capacity=100)
    tables = [ev.save_table(event, number=n, seats=seats, host=host, actor=manager)
              for n, seats, host in ((1, 4, wang), (2, 4, wang), (3, 6, li), (4, 4, None))]
    return event, manager, wang, li, tables


def confirm(event, marketer, name, companions=0, *, actor=None, **kw):
    invitation = ev.invite(event, make_customer(marketer, name=name), actor=marketer,
                           companions=companions)
    return st.change_invitation(invitation, "confirmed", actor=actor or marketer, **kw)


def where(invitations):
    return {i.customer.name: i.table.number if i.table else None for i in invitations}


def test_capacity_counts_people_not_invitations(db):
    marketer, manager = make_user(["marketer"]), make_user(["manager"])
    event = make_event(manager, capacity=6)
    # By hand: 4 guests alone, then a guest with 2 companions = 4 + 3 = 7 people > 6 seats.
    for n in range(4):
        confirm(event, marketer, f"客{n}")
    assert ev.confirmed_people(event) == 4
    party = ev.invite(event, make_customer(marketer, name="一家三口"), actor=marketer,
                      companions=2)
    with pytest.raises(Conflict, match="会议已满：已确认 4 人（容量 6 人），这位来宾一行 3 人"):
        st.change_invitation(party, "confirmed", actor=marketer)
    assert party.status == "invited"
    with pytest.raises(InvalidInput, match="请填写原因"):
        st.change_invitation(party, "confirmed", actor=manager)
    st.change_invitation(party, "confirmed", actor=manager, override_reason="家属同行")
    assert ev.confirmed_people(event) == 7 and party.override_by_id == manager.id
    # Two more alone would have fitted as invitations (6 of 6) but not as people.
    lone = ev.invite(event, make_customer(marketer, name="单人"), actor=marketer)
    with pytest.raises(Conflict, match="会议已满"):
        st.change_invitation(lone, "confirmed", actor=marketer)


def test_six_guests_with_two_companions_do_not_fit_six_seats(db):
    marketer, manager = make_user(["marketer"]), make_user(["manager"])
    event = make_event(manager, capacity=6)
    confirm(event, marketer, "甲", companions=2)  # 3
    confirm(event, marketer, "乙")                # 4
    confirm(event, marketer, "丙")                # 5
    confirm(event, marketer, "丁")                # 6
    with pytest.raises(Conflict, match="会议已满"):
        confirm(event, marketer, "戊")            # the 5th invitation, the 7th person


def test_a_confirmed_guest_sits_at_the_inviters_table_then_overflows(db, room):
    event, _, wang, li, tables = room
    guests = [confirm(event, wang, "王一", companions=1),   # 2 → table 1 (2 of 4)
              confirm(event, wang, "王二", companions=1),   # 2 → table 1 (4 of 4)
              confirm(event, wang, "王三", companions=2),   # 3 → table 2, 王's next
              confirm(event, wang, "王四", companions=1),   # 2 → no room at 王's: table 4
              confirm(event, li, "李一", companions=3)]     # 4 → table 3 (李's)
    assert where(guests) == {"王一": 1, "王二": 1, "王三": 2, "王四": 4, "李一": 3}
    assert st.free_seats(event) == {tables[0].id: 0, tables[1].id: 1, tables[2].id: 2,
                                    tables[3].id: 2}


def test_a_party_is_never_split(db, room):
    event, _, wang, li, tables = room
    confirm(event, li, "李一", companions=3)                # table 3: 4 of 6
    confirm(event, wang, "王一", companions=2)              # table 1: 3 of 4
    confirm(event, wang, "王二", companions=2)              # table 2: 3 of 4
    confirm(event, wang, "王三", companions=2)              # table 4 (no host): 3 of 4
    # Five people: one seat left at tables 1, 2 and 4, two at table 3 — nowhere all five fit.
    big = confirm(event, wang, "王家五口", companions=4)
    assert big.table is None
    # A pair fits only at 李's table 3 (two seats left), never half at table 1 and half at 2.
    pair = confirm(event, wang, "王家两口", companions=1)
    assert pair.table == tables[2]
    plan = st.seating(event, wang)
    assert [g["invitation"].customer.name for g in plan["unseated"]["guests"]] == ["王家五口"]
    assert plan["unseated"]["people"] == 5


def test_declining_gives_the_seat_up(db, room):
    event, _, wang, _, tables = room
    guest = confirm(event, wang, "王一", companions=3)
    assert guest.table == tables[0]
    st.change_invitation(guest, "declined", actor=wang)
    assert guest.table is None and st.free_seats(event)[tables[0].id] == 4


def test_moving_a_guest_full_table_refused_override_recorded(db, room):
    event, manager, wang, li, tables = room
    head = make_user(["dept_head"])
    a = confirm(event, wang, "王一", companions=2)           # table 1: 3 of 4
    b = confirm(event, li, "李一", companions=1)             # table 3: 2 of 6
    st.move_guest(b, tables[1], actor=head)
    assert b.table == tables[1] and b.is_seated_by_hand
    # Table 1 has one seat left; 李一 comes as two: refused, and nothing changes.
    with pytest.raises(Conflict, match="1 号桌共 4 座，只剩 1 座，李一 一行 2 人"):
        st.move_guest(b, tables[0], actor=head)
    assert b.table == tables[1]
    with pytest.raises(InvalidInput, match="超额安排请填写理由"):
        st.move_guest(b, tables[0], actor=manager)
    st.move_guest(b, tables[0], actor=manager, override_reason="老朋友坐一起")
    assert b.table == tables[0]
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "seating.override"))
    assert (entry.summary, entry.actor_id, entry.target_id) == ("老朋友坐一起", manager.id, b.id)
    assert ci.seats_taken(tables[0]) == 5 and a.table == tables[0]


def test_moves_refuse_another_events_table_and_staff_before_check_in(db, room):
    event, manager, wang, _, tables = room
    guest = confirm(event, wang, "王一")
    other = make_event(manager, title="别的场次")
    foreign = ev.save_table(other, number=9, seats=10, actor=manager)
    with pytest.raises(InvalidInput, match="桌位不属于本场会议"):
        st.move_guest(guest, foreign, actor=manager)
    staff = make_user(["event_staff"])
    ev.set_event_staff(event, [staff], actor=manager)
    with pytest.raises(PermissionDenied):
        st.move_guest(guest, tables[3], actor=staff)  # not checked in yet
    ci.check_in(event, guest, actor=staff, token=new_token(), companions=1)
    assert guest.table == tables[0]  # the door kept the planned table
    st.move_guest(guest, tables[3], actor=staff)
    assert guest.table == tables[3] and st.party_size(guest) == 2  # the companion who came
    assert db.session.scalar(select(AuditEntry).where(
        AuditEntry.action == "seating.move")).actor_id == staff.id


def test_replan_keeps_arrivals_and_moves_by_hand(db, room):
    event, manager, wang, li, tables = room
    staff = make_user(["event_staff"])
    ev.set_event_staff(event, [staff], actor=manager)
    li_early = confirm(event, li, "李早", companions=1)
    assert li_early.table == tables[2]
    moved = confirm(event, wang, "王动", companions=1)
    st.move_guest(moved, tables[3], actor=manager)               # by hand to table 4
    here = confirm(event, wang, "王到")
    # A plan gone stale (a guest at another marketer's table): re-planning puts it right.
    stray = confirm(event, wang, "王散", companions=1)
    stray.table = tables[2]
    ci.check_in(event, here, actor=staff, token=new_token())     # arrived at table 1
    summary = st.replan(event, actor=manager)
    assert summary == (2, 0)
    assert where([li_early, moved, here, stray]) == {"李早": 3, "王动": 4, "王到": 1, "王散": 1}
    assert db.session.scalar(select(AuditEntry).where(
        AuditEntry.action == "seating.replan")).summary == "已排座 2 位，暂无座位 0 位"
    with pytest.raises(PermissionDenied):
        st.replan(event, actor=wang)


def test_replan_seats_each_marketers_guests_at_their_tables_first(db, room):
    event, manager, wang, li, tables = room
    # Confirmed first, 王's guests would take 李's table 3 as overflow before 李's own guests.
    early = [confirm(event, wang, f"王{n}", companions=3) for n in range(4)]  # 4 × 4 people
    late = confirm(event, li, "李一", companions=5)                           # 6 people
    assert where(early + [late]) == {"王0": 1, "王1": 2, "王2": 4, "王3": 3, "李一": None}
    assert st.replan(event, actor=manager) == (4, 1)
    assert where(early + [late]) == {"王0": 1, "王1": 2, "王2": 4, "王3": None, "李一": 3}


def test_the_room_counts_planned_and_arrived_people(db, room):
    event, manager, wang, _, tables = room
    staff = make_user(["event_staff"])
    ev.set_event_staff(event, [staff], actor=manager)
    came = confirm(event, wang, "王来", companions=1)
    confirm(event, wang, "王等", companions=1)
    late = confirm(event, wang, "王新")
    ci.check_in(event, came, actor=staff, token=new_token(), companions=0)  # came alone
    first = ci.room(event)[0]
    assert (first["table"], first["arrived"], first["planned"]) == (tables[0], 1, 2)
    assert (first["arrived_names"], first["planned_names"]) == (["王来"], ["王等 +1"])
    # The door counts the seats planned for guests not yet here: at table 1 (1 arrived, 2
    # planned) 王新, planned at table 2, finds one seat, not two.
    assert late.table == tables[1]
    with pytest.raises(Conflict, match="已满"):
        ci.check_in(event, late, actor=staff, token=new_token(), companions=1,
                    table=tables[0])
    ci.check_in(event, late, actor=staff, token=new_token(), table=tables[0])
    assert [(row["arrived"], row["planned"]) for row in ci.room(event)] == [
        (2, 2), (0, 0), (0, 0), (0, 0)]


@pytest.mark.skipif(not is_postgres(), reason="row-level races are proven on PostgreSQL")
def test_two_planners_moving_guests_to_a_tables_last_seat_at_once_seat_one(app, committed_db):
    manager, marketer = make_user(["manager"]), make_user(["marketer"])
    heads = [make_user(["dept_head"]) for _ in range(4)]
    event = make_event(manager)
    table = ev.save_table(event, number=1, seats=1, actor=manager)
    guests = []
    for n in range(4):
        invitation = ev.invite(event, make_customer(marketer, name=f"客{n}"), actor=marketer)
        ev.change_invitation(invitation, "confirmed", actor=marketer)  # no seat planned
        guests.append(invitation.id)
    committed_db.session.commit()
    pairs = list(zip([h.id for h in heads], guests))
    table_id, refused = table.id, []

    def planner(pair):
        from models.accounts import User
        actor, invitation = _db.session.get(User, pair[0]), _db.session.get(ev.Invitation,
                                                                            pair[1])
        try:
            st.move_guest(invitation, _db.session.get(ev.EventTable, table_id), actor=actor)
        except Conflict:
            refused.append(pair)
            return
        _db.session.commit()

    assert race(planner, pairs, app=app, timeout=30) == []
    assert len(refused) == 3
    assert committed_db.session.scalar(select(func.count(ev.Invitation.id)).where(
        ev.Invitation.table_id == table_id)) == 1
