"""Events and invitations: status transitions, one invitation per customer, scoping, capacity
override, bulk invite, closing marks no-shows, the timeline."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from models import events as ev
from models.audit import AuditEntry
from models.base import Conflict, InvalidInput, NotFound, PermissionDenied, utcnow
from models.customers import release_to_pool
from models.timeline import timeline_of
from tests.factories import make_customer, make_event, make_user


def test_event_status_moves_only_along_allowed_paths(db):
    manager = make_user(["manager"])
    event = make_event(manager, status="planning")
    for bad in ("in_progress", "closed", "planning", "nonsense"):
        with pytest.raises(Conflict):
            ev.change_event_status(event, bad, actor=manager)
    ev.change_event_status(event, "open", actor=manager)
    ev.change_event_status(event, "in_progress", actor=manager)
    with pytest.raises(Conflict, match="不能从“进行中”改为“已取消”"):
        ev.change_event_status(event, "cancelled", actor=manager)
    ev.change_event_status(event, "closed", actor=manager)
    with pytest.raises(Conflict):
        ev.change_event_status(event, "open", actor=manager)
    marketer = make_user(["marketer"])
    with pytest.raises(PermissionDenied):
        ev.change_event_status(make_event(manager, status="planning"), "open", actor=marketer)


@pytest.mark.parametrize("change, message", [
    ({"ends_at": -1}, "结束时间必须晚于开始时间"), ({"capacity": 0}, "至少为 1"),
    ({"title": " "}, "请输入会议名称"), ({"kind": "party"}, "请选择会议类型"),
])
def test_bad_event_input_is_refused(db, change, message):
    manager = make_user(["manager"])
    start = utcnow() + timedelta(days=1)
    values = {"title": "讲座", "kind": "lecture", "venue": "酒店", "starts_at": start,
              "ends_at": start + timedelta(hours=2), "capacity": 50}
    if change.get("ends_at") == -1:
        change = {"ends_at": start - timedelta(hours=1)}
    with pytest.raises(InvalidInput, match=message):
        ev.create_event(**{**values, **change}, actor=manager)
    assert db.session.scalar(select(func.count(ev.Event.id))) == 0


def test_costs_and_tables_refuse_bad_values(db):
    manager = make_user(["manager"])
    event = make_event(manager)
    with pytest.raises(InvalidInput, match="大于零"):
        ev.add_cost(event, kind="venue", amount_fen=-100, actor=manager)
    with pytest.raises(InvalidInput, match="至少一个座位"):
        ev.save_table(event, number=1, seats=0, actor=manager)
    ev.add_cost(event, kind="venue", amount_fen=300000, actor=manager)
    ev.add_cost(event, kind="meals", amount_fen=12050, actor=manager)
    assert event.cost_fen == 312050
    ev.save_table(event, number=1, seats=10, host=make_user(["marketer"]), actor=manager)
    with pytest.raises(Conflict, match="1 号桌已存在"):
        ev.save_table(event, number=1, seats=8, actor=manager)


def test_one_invitation_per_customer_and_owner_is_credited(db):
    marketer = make_user(["marketer"])
    customer = make_customer(marketer)
    event = make_event()
    invitation = ev.invite(event, customer, actor=marketer, companions=2)
    assert invitation.inviter is marketer and invitation.status == "invited"
    assert len(invitation.token) >= 32 and str(invitation.id) != invitation.token
    with pytest.raises(ev.AlreadyInvited) as caught:
        ev.invite(event, customer, actor=marketer)
    assert caught.value.invitation is invitation
    # A manager inviting credits the owner, not themself.
    other = make_customer(marketer, name="李四")
    by_manager = ev.invite(event, other, actor=make_user(["manager"]))
    assert by_manager.inviter is marketer


def test_invite_rules(db):
    marketer, other = make_user(["marketer"]), make_user(["marketer"])
    mine, theirs = make_customer(marketer), make_customer(other, name="别人的")
    with pytest.raises(Conflict, match="邀约中"):
        ev.invite(make_event(status="planning"), mine, actor=marketer)
    with pytest.raises(Conflict):
        ev.invite(make_event(status="closed"), mine, actor=marketer)
    with pytest.raises(PermissionDenied, match="自己名下"):
        ev.invite(make_event(), theirs, actor=marketer)
    with pytest.raises(InvalidInput, match="0–5"):
        ev.invite(make_event(), mine, actor=marketer, companions=6)
    pooled = make_customer(other, name="公海的")
    release_to_pool([pooled.id], actor=make_user(["manager"]), reason="整理")
    with pytest.raises(Conflict, match="公海"):
        ev.invite(make_event(), pooled, actor=make_user(["manager"]))


def test_bulk_invite_skips_the_invited_and_refuses_do_not_call_and_foreign(db):
    marketer = make_user(["marketer"])
    customers = [make_customer(marketer, name=f"顾客{i}") for i in range(5)]
    event = make_event()
    ev.invite(event, customers[0], actor=marketer)
    assert ev.bulk_invite(event, [x.id for x in customers], actor=marketer) == (4, 1)
    assert ev.bulk_invite(event, [x.id for x in customers], actor=marketer) == (0, 5)
    quiet = make_customer(marketer, name="勿扰", do_not_call=True)
    with pytest.raises(Conflict, match="勿电话打扰"):
        ev.bulk_invite(make_event(), [customers[1].id, quiet.id], actor=marketer)
    foreign = make_customer(make_user(["marketer"]), name="外人")
    with pytest.raises(NotFound):
        ev.bulk_invite(make_event(), [customers[1].id, foreign.id], actor=marketer)


def test_confirmations_beyond_capacity_need_a_recorded_manager_override(db):
    marketer = make_user(["marketer"])
    manager = make_user(["manager"])
    event = make_event(capacity=2)
    invitations = [ev.invite(event, make_customer(marketer, name=f"客{i}"), actor=marketer)
                   for i in range(3)]
    ev.change_invitation(invitations[0], "confirmed", actor=marketer)
    ev.change_invitation(invitations[1], "confirmed", actor=marketer)
    with pytest.raises(Conflict, match="会议已满"):
        ev.change_invitation(invitations[2], "confirmed", actor=marketer)
    with pytest.raises(InvalidInput, match="请填写原因"):
        ev.change_invitation(invitations[2], "confirmed", actor=manager)
    ev.change_invitation(invitations[2], "confirmed", actor=manager, override_reason="加桌")
    assert invitations[2].override_by_id == manager.id
    assert db.session.scalar(select(AuditEntry).where(
        AuditEntry.action == "event.capacity_override")).summary == "加桌"
    with pytest.raises(Conflict):
        ev.change_invitation(invitations[0], "attended", actor=marketer)  # check-in's job


def test_closing_marks_no_shows_and_everything_is_on_the_timeline(db):
    marketer, manager = make_user(["marketer"]), make_user(["manager"])
    event = make_event(manager)
    customer = make_customer(marketer, name="王大妈")
    invitation = ev.invite(event, customer, actor=marketer)
    ev.change_invitation(invitation, "confirmed", actor=marketer)
    ev.change_event_status(event, "in_progress", actor=manager)
    ev.change_event_status(event, "closed", actor=manager)
    assert invitation.status == "no_show"
    kinds = [item.kind for item in timeline_of(customer)]
    assert kinds[:3] == ["invitation.no_show", "invitation.confirmed", "invitation.invited"]
    # Each says what happened, at which event and by whom (the no-show: who closed it).
    assert [(item.title, item.detail, item.actor) for item in timeline_of(customer)[:3]] == [
        ("未到场", event.title, manager.display_name),
        ("已确认", event.title, marketer.display_name),
        ("已邀约", event.title, marketer.display_name)]


def test_event_staff_see_only_their_events_and_invitations_are_scoped(db):
    manager = make_user(["manager"])
    staff = make_user(["event_staff"])
    mine, other = make_event(manager, title="我的场次"), make_event(manager, title="别的场次")
    ev.set_event_staff(mine, [staff], actor=manager)
    assert [e.title for e in db.session.scalars(ev.visible_events(staff))] == ["我的场次"]
    with pytest.raises(NotFound):
        ev.get_event_or_404(other.id, staff)
    with pytest.raises(InvalidInput):
        ev.set_event_staff(mine, [make_user(["marketer"])], actor=manager)
    m1, m2 = make_user(["marketer"]), make_user(["marketer"])
    ev.invite(mine, make_customer(m1, name="甲"), actor=m1)
    ev.invite(mine, make_customer(m2, name="乙"), actor=m2)
    names = [i.customer.name for i in db.session.scalars(ev.visible_invitations(m1, mine))]
    assert names == ["甲"]
    assert ev.status_counts(ev.visible_invitations(manager, mine))["invited"] == 2


def test_token_lookup_is_per_event(db):
    marketer = make_user(["marketer"])
    event, other = make_event(), make_event()
    invitation = ev.invite(event, make_customer(marketer), actor=marketer)
    assert ev.find_invitation_by_token(event, invitation.token) is invitation
    for token in (invitation.token[:-1] + "x", "", str(invitation.id), "' OR 1=1 --"):
        with pytest.raises(NotFound):
            ev.find_invitation_by_token(event, token)
    with pytest.raises(NotFound):
        ev.find_invitation_by_token(other, invitation.token)
