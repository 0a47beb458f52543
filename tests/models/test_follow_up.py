"""Follow-up that reflects reality (#27 §4) without HTTP: a callback's outcome (已接通, 未接通 —
the next attempt the next day, the head told after the last —, 拒绝 and 勿扰), a task done ahead
of its day, purchase intent and the "意向强烈" list's scope, experience visits, and 最近跟进
against a hand computation."""
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from extensions import db as _db
from models import customers as c, events as ev, tasks as t
from models.audit import AuditEntry
from models.base import InvalidInput, PermissionDenied, new_token
from models.checkin import check_in
from models.settings import update_settings
from models.timeline import timeline_of
from tests.factories import make_customer, make_event, make_order, make_user

UTC = timezone.utc
TODAY = date(2026, 11, 25)


def at(day, hour=10):
    """A UTC datetime for a local (Asia/Shanghai, UTC+8) day and hour."""
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC) - timedelta(hours=8)


def callback(shop, due=TODAY, key="order:7", customer=None):
    customer = customer or shop.customer
    t.write_tasks([t.task_row("callback", (customer.id, customer.owner_id,
                                           customer.department_id), due, key, "第3天：使用指导")])
    return _db.session.scalar(select(t.Task).where(t.Task.customer_id == customer.id,
                                                   t.Task.source_key == key))


def tasks_of(customer):
    return _db.session.scalars(select(t.Task).where(t.Task.customer_id == customer.id)
                               .order_by(t.Task.due_date, t.Task.id)).all()


def test_no_answer_closes_the_attempt_and_writes_the_next_for_tomorrow(db, shop):
    task = callback(shop)
    done = t.complete_task(task, note="", outcome="no_answer", actor=shop.marketer,
                           now=at(TODAY, 11))
    assert (done.status, done.outcome, done.done_on) == ("done", "no_answer", TODAY)
    # Not a contact: 最近跟进 stays as it was; the attempt is written down all the same.
    assert shop.customer.last_contact_at is None
    log = _db.session.get(c.ContactLog, done.contact_log_id)
    assert log.reached is False and "未接通" in log.content
    second = tasks_of(shop.customer)[-1]
    assert (second.kind, second.due_date, second.attempt, second.source_key, second.status) == \
        ("callback", TODAY + timedelta(days=1), 2, "order:7~2", "open")
    assert second.detail == "第 2 次（前 1 次未接通）" and second.source == ("order", 7)
    # Tomorrow's list shows it; today's no longer has the first.
    tomorrow = t.today_list(shop.marketer.id, TODAY + timedelta(days=1))
    assert [x.id for x in tomorrow.sections["today"]["callback"][0]] == [second.id]
    # A double tap writes nothing twice.
    t.complete_task(task, note="", outcome="no_answer", actor=shop.marketer)
    assert len(tasks_of(shop.customer)) == 2


def test_after_the_last_attempt_the_department_head_gets_an_escalation(db, shop):
    update_settings({"tasks.max_attempts": 2}, actor=shop.admin)
    task = callback(shop)
    t.complete_task(task, note="", outcome="no_answer", actor=shop.marketer, now=at(TODAY))
    second = tasks_of(shop.customer)[-1]
    day2 = TODAY + timedelta(days=1)
    t.complete_task(second, note="关机", outcome="no_answer", actor=shop.marketer,
                    now=at(day2))
    rows = tasks_of(shop.customer)
    assert [(x.kind, x.attempt, x.status) for x in rows] == \
        [("callback", 1, "done"), ("callback", 2, "done"), ("escalation", 1, "open")]
    escalation = rows[-1]
    assert (escalation.assignee_id, escalation.due_date, escalation.source_key) == \
        (shop.head.id, day2, "esc:order:7")
    assert "2" in escalation.title and "刘芳" in escalation.detail
    # The head sees it in their list; the marketer does not.
    assert t.today_list(shop.head.id, day2).sections["today"]["escalation"][1] == 1
    assert "today" not in t.today_list(shop.marketer.id, day2).sections


def test_an_unanswered_escalation_is_tried_again_then_ends_without_escalating_again(db, shop):
    update_settings({"tasks.max_attempts": 2}, actor=shop.admin)
    task = callback(shop)
    day = TODAY
    for _attempt in range(2):
        t.complete_task(task, note="", outcome="no_answer", actor=shop.marketer, now=at(day))
        task, day = tasks_of(shop.customer)[-1], day + timedelta(days=1)
    assert (task.kind, task.assignee_id) == ("escalation", shop.head.id)
    for _attempt in range(2):  # the head calls twice, unanswered
        t.complete_task(task, note="", outcome="no_answer", actor=shop.head, now=at(day))
        task, day = tasks_of(shop.customer)[-1], day + timedelta(days=1)
    rows = tasks_of(shop.customer)
    assert [(x.kind, x.attempt, x.status, x.source_key) for x in rows] == [
        ("callback", 1, "done", "order:7"), ("callback", 2, "done", "order:7~2"),
        ("escalation", 1, "done", "esc:order:7"), ("escalation", 2, "done", "esc:order:7~2")]


def test_without_a_head_the_marketer_keeps_the_escalation_and_the_team_page_counts_it(db, shop):
    update_settings({"tasks.max_attempts": 1}, actor=shop.admin)
    loner = make_user(["marketer"], display_name="孤军")  # no department, so no head
    customer = make_customer(loner, name="联系不上")
    task = callback(shop, customer=customer)
    t.complete_task(task, note="", outcome="no_answer", actor=loner, now=at(TODAY))
    escalation = tasks_of(customer)[-1]
    assert (escalation.kind, escalation.assignee_id) == ("escalation", loner.id)
    row = next(r for r in t.team_figures(shop.manager, TODAY) if r["user"].id == loner.id)
    assert row["escalated"] == 1


def test_refused_closes_the_task_and_one_tap_sets_do_not_call(db, shop):
    task = callback(shop)
    done = t.complete_task(task, note="说不要再打了", outcome="refused", actor=shop.marketer,
                           now=at(TODAY))
    assert (done.status, done.outcome) == ("done", "refused")
    assert len(tasks_of(shop.customer)) == 1  # no next attempt
    assert shop.customer.last_contact_at == at(TODAY)  # a refusal is a contact
    c.mark_do_not_call(shop.customer, actor=shop.marketer)
    assert shop.customer.do_not_call is True
    entry = _db.session.scalars(select(AuditEntry).where(
        AuditEntry.action == "customer.update").order_by(AuditEntry.id.desc())).first()
    assert "do_not_call" in str(entry.details)


def test_unknown_outcome_and_another_marketers_task_write_nothing(db, shop):
    task = callback(shop)
    with pytest.raises(InvalidInput) as refused:
        t.complete_task(task, note="好", outcome="maybe", actor=shop.marketer)
    assert "已接通" in refused.value.message
    with pytest.raises(PermissionDenied):
        t.complete_task(task, note="冒名", actor=make_user(["marketer"]))
    assert task.status == "open" and task.outcome is None
    assert _db.session.scalar(select(func.count()).select_from(c.ContactLog)) == 0


def test_a_task_due_later_needs_a_reason_to_be_done_ahead(db, shop):
    task = callback(shop, due=TODAY + timedelta(days=2))
    with pytest.raises(InvalidInput) as refused:
        t.complete_task(task, note="已接通", actor=shop.marketer, now=at(TODAY))
    assert "原因" in refused.value.message and refused.value.field == "early_reason"
    assert task.status == "open"
    done = t.complete_task(task, note="已接通", early_reason="顾客明天住院", actor=shop.marketer,
                           now=at(TODAY))
    assert done.status == "done" and done.early_reason == "顾客明天住院"
    assert "顾客明天住院" in _db.session.get(c.ContactLog, done.contact_log_id).content
    # Due today or overdue: no reason asked.
    assert t.complete_task(callback(shop, key="order:8"), note="好", actor=shop.marketer,
                           now=at(TODAY)).status == "done"


def test_purchase_intent_latest_on_the_customer_and_the_strong_list_scoped(db, shop):
    other = make_user(["marketer"], display_name="赵敏", department=shop.department)
    stranger = make_user(["marketer"], display_name="外人", department=shop.other_department)
    theirs = make_customer(other, name="赵的顾客")
    c.record_intent(shop.customer, "some", source="customer", actor=shop.marketer,
                    now=at(TODAY - timedelta(days=3)))
    c.record_intent(shop.customer, "strong", source="event", actor=shop.marketer,
                    now=at(TODAY))
    c.record_intent(theirs, "strong", source="customer", actor=other, now=at(TODAY))
    assert (shop.customer.intent, shop.customer.intent_at) == ("strong", at(TODAY))
    assert [x.intent for x in c.intents_of(shop.customer)] == ["strong", "some"]
    with pytest.raises(InvalidInput) as refused:
        c.record_intent(shop.customer, "very", source="customer", actor=shop.marketer)
    assert "强烈" in refused.value.message
    assert _db.session.scalar(select(func.count()).select_from(c.PurchaseIntent)) == 3
    names = lambda user, **kw: [x.name for x in c.strong_intent_customers(user, **kw)]  # noqa
    assert names(shop.marketer) == ["王大爷"]
    assert names(other) == ["赵的顾客"]
    assert names(stranger) == []
    assert sorted(names(shop.head)) == ["王大爷", "赵的顾客"]
    assert names(shop.head, owner_id=other.id) == ["赵的顾客"]
    assert names(shop.other_head) == []
    assert any(item.kind == "intent" for item in timeline_of(shop.customer))


def test_experience_visits_on_the_timeline(db, shop):
    c.record_experience(shop.customer, product="远红外理疗仪", how="说腰舒服多了",
                        day=TODAY - timedelta(days=1), actor=shop.marketer, now=at(TODAY))
    with pytest.raises(InvalidInput):
        c.record_experience(shop.customer, product=" ", how="", day=TODAY, actor=shop.marketer,
                            now=at(TODAY))
    with pytest.raises(InvalidInput):
        c.record_experience(shop.customer, product="足浴盆", how="", actor=shop.marketer,
                            day=TODAY + timedelta(days=1), now=at(TODAY))
    assert [(x.product, x.how) for x in c.experiences_of(shop.customer)] == \
        [("远红外理疗仪", "说腰舒服多了")]
    item = next(i for i in timeline_of(shop.customer) if i.kind == "experience")
    assert "远红外理疗仪" in item.detail


def test_last_contact_counts_contacts_arrivals_and_orders_as_worked_out_by_hand(db, shop):
    customer = shop.customer
    # By hand: a call on day 1 (reached), an unanswered call on day 4 (not a contact), an
    # arrival on day 2, an order on day 3 → 最近跟进 is the order's time, day 3.
    day1, day2, day3, day4 = (at(TODAY + timedelta(days=n)) for n in (0, 1, 2, 3))
    c.record_contact(customer, kind="call", content="问候", actor=shop.marketer, now=day1)
    assert customer.last_contact_at == day1 == c.last_contact_of(customer.id)
    event = make_event(shop.manager, status="open", days=0)
    invitation = ev.invite(event, customer, actor=shop.marketer)
    ev.change_event_status(event, "in_progress", actor=shop.manager)
    check_in(event, invitation, actor=shop.manager, token=new_token(), now=day2)
    _db.session.refresh(customer)
    assert customer.last_contact_at == day2 == c.last_contact_of(customer.id)
    make_order(customer, warehouse=shop.warehouse, actor=shop.marketer, now=day3,
               lines=[{"product": shop.product, "quantity": 1}])
    _db.session.refresh(customer)
    assert customer.last_contact_at == day3 == c.last_contact_of(customer.id)
    task = callback(shop, due=TODAY + timedelta(days=3))
    t.complete_task(task, note="", outcome="no_answer", actor=shop.marketer, now=day4)
    _db.session.refresh(customer)
    assert customer.last_contact_at == day3 == c.last_contact_of(customer.id)
    # An earlier contact written later never moves it back.
    c.touch_last_contact(customer.id, day1)
    _db.session.refresh(customer)
    assert customer.last_contact_at == day3
