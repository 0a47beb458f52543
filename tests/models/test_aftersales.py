"""After-sales tickets (售后): due dates by kind from the settings, the status rules (start,
close only with an outcome, reopen with a reason and a new due date), notes with who and when,
hand-over, bad input refused in Chinese with nothing written, the scope (out of scope is not
found), the reminders on the worklist (due and overdue, idempotent, following the ticket, not the
customer's owner), the warning's list, and the public pool leaving a customer with an open
ticket alone."""
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from extensions import db as _db
from jobs import customers as job_customers, worklists
from models import aftersales as a, customers as c, tasks as t
from models.audit import AuditEntry
from models.base import Conflict, InvalidInput, NotFound, PermissionDenied, new_token
from models.settings import update_settings
from models.timeline import timeline_of
from tests.factories import make_customer, make_department, make_order, make_user
from tests.world import table_counts

UTC = timezone.utc
TODAY = date(2026, 11, 25)


def at(day, hour=10):
    """A UTC datetime for a local (Asia/Shanghai, UTC+8) day and hour."""
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC) - timedelta(hours=8)


def ticket_for(shop, *, kind="repair", assignee=None, actor=None, now=None, **extra):
    actor = actor or shop.marketer
    return a.open_ticket(shop.customer, kind=kind, description="血压计不显示",
                         assignee_id=(assignee or actor).id, actor=actor, token=new_token(),
                         now=now or at(TODAY), **extra)


def reminders(ticket):
    return _db.session.scalars(select(t.Task).where(
        t.Task.kind == "aftersales", t.Task.source_key == f"ticket:{ticket.id}")
        .order_by(t.Task.due_date, t.Task.id)).all()


# --- Registering ----------------------------------------------------------------------------

def test_a_ticket_is_due_by_its_kinds_days_from_the_settings(db, shop):
    repair = ticket_for(shop, kind="repair")
    complaint = ticket_for(shop, kind="complaint")
    visit = ticket_for(shop, kind="visit")
    assert (repair.due_date, complaint.due_date, visit.due_date) == (
        TODAY + timedelta(days=7), TODAY + timedelta(days=3), TODAY + timedelta(days=5))
    update_settings({"aftersales.repair_days": 10}, actor=shop.admin)
    assert ticket_for(shop, kind="repair").due_date == TODAY + timedelta(days=10)
    assert repair.number == f"SH20261125-{repair.id:05d}" and repair.status == "open"
    assert repair.opened_on == TODAY and repair.department_id == shop.department.id
    entry = _db.session.scalar(select(AuditEntry).where(
        AuditEntry.action == "aftersales.open", AuditEntry.target_id == repair.id))
    assert entry.actor_id == shop.marketer.id and repair.number in entry.summary
    # A night in Shanghai: 23:30 local on the 25th is still the 25th.
    late = ticket_for(shop, kind="complaint", now=at(TODAY, 23) + timedelta(minutes=30))
    assert late.opened_on == TODAY and late.due_date == TODAY + timedelta(days=3)


def test_the_same_form_twice_is_one_ticket(db, shop):
    token = new_token()
    first = a.open_ticket(shop.customer, kind="visit", description="上门看看", actor=shop.marketer,
                          assignee_id=shop.marketer.id, token=token, now=at(TODAY))
    again = a.open_ticket(shop.customer, kind="visit", description="上门看看",
                          actor=shop.marketer, assignee_id=shop.marketer.id, token=token,
                          now=at(TODAY))
    assert again.id == first.id
    assert _db.session.scalar(select(func.count()).select_from(a.Ticket)) == 1


def test_the_order_and_product_it_is_about(db, shop):
    order = make_order(shop.customer, warehouse=shop.warehouse, actor=shop.marketer,
                       lines=[{"product": shop.product, "quantity": 1}])
    ticket = ticket_for(shop, order_id=order.id, product_id=shop.product.id)
    assert ticket.order.number == order.number and ticket.product.name == "灵芝孢子粉"


@pytest.mark.parametrize("change, message", [
    ({"kind": "refund"}, "选择问题类型"),
    ({"description": "   "}, "描述"),
    ({"order": "someone else's"}, "不是这位顾客的"),
    ({"product_id": 999999}, "请从列表中选择产品"),
    ({"assignee": "nobody"}, "请从列表中选择负责人"),
    ({"assignee": "inactive"}, "请从列表中选择负责人"),
    ({"assignee": "other department"}, "请从列表中选择负责人"),
    ({"assignee": "warehouse"}, "请从列表中选择负责人"),
])
def test_bad_input_is_refused_in_chinese_with_nothing_written(db, shop, change, message):
    other_customer = make_customer(shop.marketer, name="别人")
    others_order = make_order(other_customer, warehouse=shop.warehouse, actor=shop.marketer,
                              lines=[{"product": shop.product, "quantity": 1}])
    gone = make_user(["marketer"], department=shop.department)
    gone.is_active = False
    people = {"nobody": 999999, "inactive": gone.id, "warehouse": shop.clerk.id,
              "other department": make_user(["marketer"], department=shop.other_department).id}
    fields = {"kind": "repair", "description": "漏气", "assignee_id": shop.marketer.id,
              "order_id": None, "product_id": None}
    fields.update({k: v for k, v in change.items() if k in fields})
    if "order" in change:
        fields["order_id"] = others_order.id
    if "assignee" in change:
        fields["assignee_id"] = people[change["assignee"]]
    _db.session.flush()
    before = table_counts()
    with pytest.raises(InvalidInput) as refused:
        a.open_ticket(shop.customer, actor=shop.marketer, token=new_token(), now=at(TODAY),
                      **fields)
    assert message in str(refused.value.message)
    assert table_counts() == before


def test_who_may_be_made_responsible(db, shop):
    colleague = make_user(["marketer"], department=shop.department, display_name="同事")
    other = make_user(["marketer"], department=shop.other_department, display_name="外部门")
    mine = {u.id for u in _db.session.scalars(a.assignable_users(shop.marketer))}
    assert {shop.marketer.id, colleague.id, shop.head.id} <= mine and other.id not in mine
    heads = {u.id for u in _db.session.scalars(a.assignable_users(shop.head))}
    assert colleague.id in heads and other.id not in heads and shop.manager.id not in heads
    managers = {u.id for u in _db.session.scalars(a.assignable_users(shop.manager))}
    assert {other.id, colleague.id, shop.manager.id} <= managers
    assert shop.clerk.id not in managers and shop.finance.id not in managers
    # A new ticket goes to the customer's marketer when the actor may choose them.
    assert a.default_assignee(shop.customer, shop.manager).id == shop.marketer.id
    assert a.default_assignee(shop.customer, shop.other_head).id == shop.other_head.id


# --- Its life --------------------------------------------------------------------------------

def test_open_start_close_with_outcome_and_reopen(db, shop):
    ticket = ticket_for(shop)
    later = at(TODAY + timedelta(days=2))
    a.change_ticket_status(ticket, "in_progress", note="已约师傅", actor=shop.marketer,
                           token=new_token(), now=later)
    assert ticket.status == "in_progress"
    before = table_counts()
    with pytest.raises(InvalidInput) as refused:
        a.change_ticket_status(ticket, "closed", note=" ", actor=shop.marketer,
                               token=new_token(), now=later)
    assert refused.value.field == "outcome" and "结果" in str(refused.value.message)
    assert table_counts() == before and ticket.status == "in_progress"
    a.change_ticket_status(ticket, "closed", note="换了新电池，顾客满意", actor=shop.marketer,
                           token=new_token(), now=at(TODAY + timedelta(days=4)))
    assert (ticket.status, ticket.outcome, ticket.days_to_close) == (
        "closed", "换了新电池，顾客满意", 4)
    with pytest.raises(Conflict):
        a.change_ticket_status(ticket, "closed", note="再关一次", actor=shop.marketer,
                               token=new_token())
    with pytest.raises(Conflict):
        a.change_ticket_status(ticket, "in_progress", actor=shop.marketer, token=new_token())
    with pytest.raises(InvalidInput):  # a reason to reopen, please
        a.change_ticket_status(ticket, "open", note="", actor=shop.marketer, token=new_token())
    reopened_on = TODAY + timedelta(days=10)
    a.change_ticket_status(ticket, "open", note="又坏了", actor=shop.head, token=new_token(),
                           now=at(reopened_on))
    assert ticket.status == "open" and ticket.outcome == "" and ticket.days_to_close is None
    assert ticket.due_date == reopened_on + timedelta(days=7)
    a.change_ticket_status(ticket, "closed", note="换新机", actor=shop.marketer,
                           token=new_token(), now=at(TODAY + timedelta(days=12)))
    assert ticket.days_to_close == 12  # from the registration to the last close
    notes = a.notes_of(ticket)
    assert [(n.kind, n.text) for n in notes] == [
        ("start", "已约师傅"), ("close", "换了新电池，顾客满意"), ("reopen", "又坏了"),
        ("close", "换新机")]
    assert notes[2].by_id == shop.head.id and notes[2].at == at(reopened_on)
    assert _db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "aftersales.status", AuditEntry.target_id == ticket.id)) == 4


def test_a_resubmitted_status_change_is_the_first_result(db, shop):
    ticket = ticket_for(shop)
    token = new_token()
    a.change_ticket_status(ticket, "closed", note="已解决", actor=shop.marketer, token=token)
    again = a.change_ticket_status(ticket, "closed", note="已解决", actor=shop.marketer,
                                   token=token)
    assert again.id == ticket.id and len(a.notes_of(ticket)) == 1


def test_the_database_refuses_a_closed_ticket_without_an_outcome(db, shop):
    from sqlalchemy.exc import IntegrityError
    ticket = ticket_for(shop)
    with pytest.raises(IntegrityError):
        with _db.session.begin_nested():
            ticket.status = "closed"
            _db.session.flush()


def test_notes_from_anyone_who_sees_it_changes_only_from_those_responsible(db, shop):
    ticket = ticket_for(shop)
    pool_marketer = make_user(["marketer"], department=shop.other_department)
    c.release_to_pool([shop.customer.id], actor=shop.manager, reason="离职交接")
    # A marketer who sees the pool customer may add what they heard…
    note = a.add_note(ticket, text="顾客来电催问", actor=pool_marketer, token=new_token(),
                      now=at(TODAY + timedelta(days=1)))
    assert (note.kind, note.by_id) == ("note", pool_marketer.id)
    # …but not close or hand over someone else's ticket.
    with pytest.raises(PermissionDenied):
        a.change_ticket_status(ticket, "closed", note="x", actor=pool_marketer,
                               token=new_token())
    with pytest.raises(PermissionDenied):
        a.assign_ticket(ticket, pool_marketer.id, actor=pool_marketer, token=new_token())
    with pytest.raises(InvalidInput):
        a.add_note(ticket, text="  ", actor=shop.marketer, token=new_token())
    token = new_token()
    assert a.add_note(ticket, text="一次", actor=shop.marketer, token=token).id == \
        a.add_note(ticket, text="一次", actor=shop.marketer, token=token).id


def test_hand_over_within_reach(db, shop):
    ticket = ticket_for(shop)
    colleague = make_user(["marketer"], department=shop.department, display_name="同事")
    a.assign_ticket(ticket, colleague.id, note="我出差", actor=shop.marketer, token=new_token())
    assert ticket.assignee_id == colleague.id and ticket.department_id == shop.department.id
    assert a.notes_of(ticket)[-1].text == "刘芳 → 同事：我出差"
    with pytest.raises(InvalidInput):  # already theirs
        a.assign_ticket(ticket, colleague.id, actor=shop.head, token=new_token())
    with pytest.raises(InvalidInput):  # another department is out of the head's reach
        a.assign_ticket(ticket, shop.other_head.id, actor=shop.head, token=new_token())
    a.assign_ticket(ticket, shop.other_head.id, actor=shop.manager, token=new_token())
    assert ticket.department_id == shop.other_department.id
    a.change_ticket_status(ticket, "closed", note="好了", actor=shop.other_head,
                           token=new_token())
    with pytest.raises(Conflict):
        a.assign_ticket(ticket, shop.marketer.id, actor=shop.manager, token=new_token())


# --- Scope -----------------------------------------------------------------------------------

def test_who_sees_a_ticket(db, shop):
    ticket = ticket_for(shop)
    stranger = make_user(["marketer"], department=shop.other_department)
    other_customer = make_customer(stranger, name="外部门顾客")
    theirs = a.open_ticket(other_customer, kind="complaint", description="态度不好",
                           assignee_id=stranger.id, actor=stranger, token=new_token())

    def seen(user):
        return {x.id for x in _db.session.scalars(a.visible_tickets(user))}
    assert seen(shop.marketer) == {ticket.id}
    assert seen(stranger) == {theirs.id}
    assert seen(shop.head) == {ticket.id} and seen(shop.other_head) == {theirs.id}
    assert seen(shop.manager) == {ticket.id, theirs.id}
    with pytest.raises(NotFound) as refused:
        a.get_ticket_or_404(theirs.id, shop.marketer)
    assert str(refused.value.message) == "记录不存在，或不在您的查看范围内。"
    # Handed to 刘芳, the other department's ticket is hers to see (and her head's) too.
    a.assign_ticket(theirs, shop.marketer.id, actor=shop.manager, token=new_token())
    assert theirs.id in seen(shop.marketer) and theirs.id in seen(shop.head)
    assert a.get_ticket_or_404(theirs.id, shop.marketer).id == theirs.id
    # A pooled customer's ticket is seen by every marketer, as the customer is.
    c.release_to_pool([shop.customer.id], actor=shop.manager, reason="离职交接")
    assert ticket.id in seen(stranger)
    with pytest.raises(NotFound):
        a.get_ticket_or_404(2**40, shop.manager)


def test_the_customers_unresolved_tickets_and_timeline(db, shop):
    first = ticket_for(shop, kind="complaint")
    second = ticket_for(shop, kind="repair")
    done = ticket_for(shop, kind="visit")
    a.change_ticket_status(done, "closed", note="上门讲解了用法", actor=shop.marketer,
                           token=new_token(), now=at(TODAY + timedelta(days=1)))
    assert [x.id for x in a.open_tickets_of(shop.customer)] == [first.id, second.id]
    kinds = [item.kind for item in timeline_of(shop.customer)]
    assert kinds.count("aftersales.open") == 3 and kinds.count("aftersales.close") == 1
    assert first.days_overdue(TODAY + timedelta(days=5)) == 2 and done.days_overdue(
        TODAY + timedelta(days=30)) == 0


# --- Reminders on the worklist ----------------------------------------------------------------

def test_a_reminder_on_the_due_day_then_every_n_days_while_open(db, shop):
    """Reminders are written on the due day; while the ticket stays open, N days after the last
    was done; never two at once; none once it is closed; a reopened ticket's on its new day."""
    ticket = ticket_for(shop, kind="complaint")   # due on the 28th
    due = TODAY + timedelta(days=3)
    assert worklists.aftersales_reminders(due - timedelta(days=1), at(due, 2)) == 0
    assert worklists.aftersales_reminders(due, at(due, 2)) == 1
    assert worklists.aftersales_reminders(due, at(due, 3)) == 0    # a re-run: nothing twice
    [task] = reminders(ticket)
    assert (task.assignee_id, task.due_date, task.department_id) == (
        shop.marketer.id, due, shop.department.id)
    assert "投诉" in task.title and ticket.number in task.title and "血压计" in task.detail
    # Still open the next days: while the reminder waits, no second one.
    assert worklists.aftersales_reminders(due + timedelta(days=4), at(due, 2)) == 0
    t.complete_task(task, note="已安抚，等配件", actor=shop.marketer,
                    now=at(due + timedelta(days=4)))
    # Done, the ticket still open: a fresh one 3 days (a setting) after it was done.
    assert worklists.aftersales_reminders(due + timedelta(days=6), at(due, 2)) == 0
    assert worklists.aftersales_reminders(due + timedelta(days=7), at(due, 2)) == 1
    assert [x.due_date for x in reminders(ticket)] == [due, due + timedelta(days=7)]
    # Closing the ticket marks its open reminder done.
    a.change_ticket_status(ticket, "closed", note="配件到了，修好", actor=shop.head,
                           token=new_token(), now=at(due + timedelta(days=7)))
    assert [x.status for x in reminders(ticket)] == ["done", "done"]
    assert reminders(ticket)[-1].done_by_id == shop.head.id
    assert worklists.aftersales_reminders(due + timedelta(days=30), at(due, 2)) == 0
    # Reopened on the 30th: due 3 days later, reminded that day.
    reopened = due + timedelta(days=30)
    a.change_ticket_status(ticket, "open", note="顾客说又不行了", actor=shop.marketer,
                           token=new_token(), now=at(reopened))
    assert worklists.aftersales_reminders(reopened + timedelta(days=2), at(due, 2)) == 0
    assert worklists.aftersales_reminders(reopened + timedelta(days=3), at(due, 2)) == 1
    assert reminders(ticket)[-1].due_date == reopened + timedelta(days=3)


def test_a_missed_night_writes_the_reminder_overdue(db, shop):
    ticket = ticket_for(shop, kind="repair")
    # The first run after the due day: due on the due day, so "Today" shows it overdue.
    day = ticket.due_date + timedelta(days=2)
    assert worklists.aftersales_reminders(day, at(day, 2)) == 1
    [task] = reminders(ticket)
    assert task.due_date == ticket.due_date and task.state(day) == "overdue"
    worklist = t.today_list(shop.marketer.id, day)
    assert worklist.total("overdue") == 1


def test_the_reminder_follows_the_ticket_not_the_customer(db, shop):
    ticket = ticket_for(shop, kind="complaint")
    colleague = make_user(["marketer"], department=shop.department, display_name="同事")
    due = ticket.due_date
    worklists.aftersales_reminders(due, at(due, 2))
    a.assign_ticket(ticket, colleague.id, actor=shop.head, token=new_token())
    assert [x.assignee_id for x in reminders(ticket)] == [colleague.id]
    # The customer goes to another marketer: the after-sales reminder stays with the colleague.
    newcomer = make_user(["marketer"], department=shop.department)
    c.transfer_customers([shop.customer.id], newcomer, actor=shop.head, reason="调整")
    assert [x.assignee_id for x in reminders(ticket)] == [colleague.id]
    # To the pool: the ticket is still to be resolved, and so is its reminder.
    c.release_to_pool([shop.customer.id], actor=shop.manager, reason="离职交接")
    assert [x.status for x in reminders(ticket)] == ["open"]


def test_an_unresolved_ticket_keeps_the_customer_out_of_the_pool(db, shop):
    quiet = make_customer(shop.marketer, name="久未联系")
    quiet.owned_since, quiet.last_contact_at = at(TODAY) - timedelta(days=40), None
    a.open_ticket(quiet, kind="repair", description="按摩椅异响", assignee_id=shop.marketer.id,
                  actor=shop.marketer, token=new_token(), now=at(TODAY - timedelta(days=1)))
    [found] = [row for row in job_customers.pool_candidates(TODAY) if row[0] == quiet.id]
    assert found[-1] is True   # protected
    job_customers.pool_reclaim(TODAY, at(TODAY, 2))
    assert quiet.status == "active"
