"""Tasks written by the nightly jobs, on hand-built dates: callbacks across midnight in
Asia/Shanghai, event follow-ups, lunar and solar birthdays (leap months, short months, 29
February, the turn of the year), arrears, custody, repurchase, planned follow-ups; the public pool
and what protects from it; grades; doing, skipping and handing over tasks."""
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import event, func, select, update

from extensions import db as _db
from jobs import customers as job_customers, worklists
from models import customers as c, events as ev, tasks as t
from models.audit import AuditEntry
from models.base import InvalidInput, NotFound, PermissionDenied, new_token
from models.checkin import check_in
from models.customers import ContactLog, record_contact
from models.settings import update_settings
from models.timeline import timeline_of
from tests.factories import make_customer, make_department, make_event, make_order, make_user

UTC = timezone.utc
TODAY = date(2026, 11, 25)


def at(day, hour=10, minute=0):
    """A UTC datetime for a local (Asia/Shanghai, UTC+8) day and time."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC) - timedelta(hours=8)


def tasks_of(customer, kind=None):
    query = select(t.Task).where(t.Task.customer_id == customer.id)
    if kind:
        query = query.where(t.Task.kind == kind)
    return _db.session.scalars(query.order_by(t.Task.due_date)).all()


# --- Lunar and solar birthdays ---------------------------------------------------------------

def test_lunar_birthdays_follow_the_stated_rule():
    # 2025 has a leap sixth month: a 闰六月 birthday stays in it.
    assert c.lunar_birthday_in(2025, 6, 1, True) == (date(2025, 7, 25), "")
    assert c.lunar_birthday_in(2025, 6, 1, False) == (date(2025, 6, 25), "")
    # 2026 has no leap sixth month: the ordinary sixth month, and the list says so.
    day, note = c.lunar_birthday_in(2026, 6, 1, True)
    assert day == c.lunar_birthday_in(2026, 6, 1, False)[0] and "闰" not in note and note
    # The 12th month of lunar 2026 has 29 days: a day-30 birthday is kept on day 29.
    day, note = c.lunar_birthday_in(2026, 12, 30, False)
    assert day == c.lunar_birthday_in(2026, 12, 29, False)[0] and "29" in note
    assert c.lunar_birthday_in(2026, 10, 5, False) == (date(2026, 11, 13), "")
    assert c.lunar_label(4, 8, True) == "农历闰四月初八"


def test_care_list_finds_solar_and_lunar_birthdays_across_the_year_end(db):
    owner = make_user()
    lunar = make_customer(owner, name="农历生日", birthday_kind="lunar", lunar_month=10,
                          lunar_day=5, birth_year=1950)
    new_year = make_customer(owner, name="腊月生日", birthday_kind="lunar", lunar_month=12,
                             lunar_day=1)
    leap_day = make_customer(owner, name="闰日生日", birthday_kind="solar",
                             birthday=date(1948, 2, 29))
    make_customer(owner, name="不在范围", birthday_kind="solar", birthday=date(1950, 12, 25))
    found = c.care_list(date(2026, 11, 10), date(2026, 11, 16))
    assert [(row["customer"].name, row["date"], row["age"]) for row in found] == \
        [("农历生日", date(2026, 11, 13), 76)]
    # Lunar 2025's twelfth month falls in January 2026 of the solar calendar.
    january = c.care_list(date(2026, 1, 1), date(2026, 1, 31))
    assert [row["customer"].name for row in january] == ["腊月生日"]
    assert january[0]["date"] == c.lunar_birthday_in(2025, 12, 1, False)[0]
    february = c.care_list(date(2026, 2, 27), date(2026, 3, 1))
    assert [(row["customer"].name, row["date"]) for row in february] == \
        [("闰日生日", date(2026, 2, 28))]
    assert new_year.id and leap_day.id and lunar.id


def test_birthday_tasks_are_written_days_ahead_once(db):
    owner = make_user()
    customer = make_customer(owner, name="寿星", birthday_kind="solar",
                             birthday=date(1950, 12, 1), anniversary=date(1975, 12, 2))
    # birthday 1 Dec, 3 days ahead: due 28 Nov, in the 7-day window
    assert worklists.care(TODAY) == 2
    birthday, anniversary = tasks_of(customer)
    assert (birthday.kind, birthday.due_date, birthday.assignee_id) == \
        ("birthday", date(2026, 11, 28), owner.id)
    assert "12月1日" in birthday.title and "76" in birthday.title
    assert anniversary.kind == "anniversary" and anniversary.due_date == date(2026, 11, 29)
    assert worklists.care(TODAY) == 0 and worklists.care(TODAY + timedelta(days=1)) == 0


# --- Callbacks, events, arrears, custody, repurchase, planned follow-ups --------------------------

pytestmark = pytest.mark.shop(price=10000, stock=100)


def order_at(shop, moment, quantity=2, **kwargs):
    warehouse, marketer, customer, product = (
        shop.warehouse, shop.marketer, shop.customer, shop.product)
    return make_order(customer, warehouse=warehouse, actor=marketer, now=moment,
                      lines=[{"product": product, "quantity": quantity}], **kwargs)


def test_callbacks_count_days_in_the_company_time_zone(db, shop):
    customer = shop.customer
    # 00:30 on 25 November in Shanghai is still 24 November in UTC.
    order = order_at(shop, datetime(2026, 11, 24, 16, 30, tzinfo=UTC))
    assert worklists.callbacks(TODAY) == 2  # day 3 (28 Nov) and day 7 (2 Dec) fall in 25 Nov–2 Dec
    assert [(task.due_date, task.title) for task in tasks_of(customer)] == \
        [(date(2026, 11, 28), "第3天：使用指导"), (date(2026, 12, 2), "第7天：效果回访")]
    assert tasks_of(customer)[0].source == ("order", order.id)
    assert worklists.callbacks(TODAY) == 0 and worklists.callbacks(TODAY + timedelta(days=1)) == 0
    assert worklists.callbacks(date(2026, 12, 24)) == 1  # day 30 = 25 December
    # A cancelled order gets no callbacks.
    cancelled = order_at(shop, at(TODAY))
    cancelled.status = "cancelled"
    assert worklists.callbacks(TODAY + timedelta(days=3)) == 0


def test_callback_wording_and_days_are_settings(db, shop):
    admin = make_user(["admin"])
    update_settings({"tasks.callback_1_days": 2, "tasks.callback_1_text": "询问服用感受"},
                    actor=admin)
    order_at(shop, at(TODAY))
    worklists.callbacks(TODAY)
    assert tasks_of(shop.customer)[0].title == "第2天：询问服用感受"
    with pytest.raises(InvalidInput):
        update_settings({"tasks.callback_2_days": 0}, actor=admin)
    with pytest.raises(InvalidInput):
        update_settings({"pool.days_never_invited": -5}, actor=admin)


def test_after_an_event_attendees_who_did_not_buy_and_invitees_who_did_not_come(db, shop):
    warehouse, marketer, buyer, product = shop.warehouse, shop.marketer, shop.customer, shop.product
    manager = make_user(["manager"])
    event = make_event(manager, status="open", days=0)
    came_no_buy = make_customer(marketer, name="来了没买")
    stayed_home = make_customer(marketer, name="没来")
    declined = make_customer(marketer, name="婉拒")
    invitations = {}
    for customer in (buyer, came_no_buy, stayed_home, declined):
        invitations[customer.name] = ev.invite(event, customer, actor=marketer)
        ev.change_invitation(invitations[customer.name], "confirmed", actor=marketer)
    ev.change_invitation(invitations["婉拒"], "declined", actor=marketer)
    ev.change_event_status(event, "in_progress", actor=manager)
    for customer in (buyer, came_no_buy):
        check_in(event, invitations[customer.name], actor=manager, token=new_token())
    event.starts_at = at(TODAY, 23, 30) - timedelta(days=1)  # 23:30 on the 24th, local time
    order_at(shop, at(TODAY) - timedelta(days=1), event=event, channel="event")
    assert worklists.event_follow_ups(TODAY) == 2
    assert [(x.kind, x.due_date) for x in tasks_of(came_no_buy)] == [("no_buy", TODAY)]
    assert [(x.kind, x.due_date) for x in tasks_of(stayed_home)] == [("no_show", TODAY)]
    assert tasks_of(buyer) == [] and tasks_of(declined) == []
    assert worklists.event_follow_ups(TODAY) == 0
    assert worklists.event_follow_ups(TODAY - timedelta(days=1)) == 0  # the event was not over yet


def test_arrears_reminders_before_and_after_the_due_date(db, shop):
    customer = shop.customer
    order = order_at(shop, at(TODAY) - timedelta(days=20), due_date=date(2026, 11, 30))
    assert order.balance_due > 0
    assert worklists.arrears(TODAY) == 1
    before = tasks_of(customer, "arrears")
    assert [(x.due_date, x.title) for x in before] == [(date(2026, 11, 27), "3 天后到期")]
    assert "欠 ¥200.00" in before[0].detail
    assert worklists.arrears(date(2026, 11, 30)) == 0  # due today: nothing new
    assert worklists.arrears(date(2026, 12, 1)) == 1  # the day after
    assert worklists.arrears(date(2026, 12, 5)) == 0  # repeats every 7 days
    assert worklists.arrears(date(2026, 12, 8)) == 1
    assert [x.due_date for x in tasks_of(customer, "arrears")] == \
        [date(2026, 11, 27), date(2026, 12, 1), date(2026, 12, 8)]
    from models.orders import receive_payment
    receive_payment(order, amount=order.balance_due, kind="balance", method="cash",
                    actor=make_user(["finance"]), token=new_token())
    assert worklists.arrears(date(2026, 12, 15)) == 0  # paid: no more reminders


def test_custody_reminders_every_n_days_and_near_expiry_once(db, shop):
    warehouse, marketer, customer, product = (
        shop.warehouse, shop.marketer, shop.customer, shop.product)
    order = make_order(customer, warehouse=warehouse, actor=marketer, now=at(TODAY) - timedelta(
        days=31), lines=[{"product": product, "quantity": 3, "held": 3}])
    from models.orders import receive_payment
    receive_payment(order, amount=order.balance_due, kind="full", method="cash",
                    actor=make_user(["finance"]), token=new_token())
    from models.custody import CustodyEntry
    for entry in _db.session.scalars(select(CustodyEntry)):
        entry.at = at(TODAY) - timedelta(days=31)
    assert worklists.custody_reminders(TODAY) == 1
    [task] = tasks_of(customer, "pickup")
    assert task.due_date == TODAY - timedelta(days=1) and "3" in task.title
    assert worklists.custody_reminders(TODAY) == 0
    assert worklists.custody_reminders(TODAY + timedelta(1)) == 0
    assert worklists.custody_reminders(TODAY + timedelta(days=29)) == 1  # 60 days quiet
    from models import inventory as inv
    for batch in _db.session.scalars(select(inv.Batch)):
        batch.expiry_date = TODAY + timedelta(days=20)
    assert worklists.custody_reminders(TODAY + timedelta(days=2)) == 1
    assert worklists.custody_reminders(TODAY + timedelta(days=3)) == 0  # once per batch
    assert [x.kind for x in tasks_of(customer)].count("custody_expiry") == 1


def test_repurchase_reminder_before_the_goods_run_out(db, shop):
    product = shop.product
    product.days_per_unit = 30
    order_at(shop, at(date(2026, 10, 10)), quantity=2)  # 60 days: runs out 9 December
    order_at(shop, at(date(2026, 11, 1)), quantity=1)  # runs out 1 December: due 24 Nov, past
    assert worklists.repurchase(TODAY) == 1
    [task] = tasks_of(shop.customer, "repurchase")
    assert task.due_date == date(2026, 12, 2) and "2026-12-09" in task.title
    assert worklists.repurchase(TODAY) == 0 and worklists.repurchase(TODAY + timedelta(days=1)) == 0


def test_repurchase_counts_what_the_customer_has_in_hand(db, shop):
    """3 boxes of 30 days on 10 October: 1 taken home (runs out 9 November), 2 left in custody
    and picked up on 20 November, after the first ran out: they last from 20 November to
    19 January. With everything still in custody there is nothing in hand to run out."""
    from models import custody as cu, orders as o
    product = shop.product
    product.days_per_unit = 30
    order = make_order(shop.customer, warehouse=shop.warehouse, actor=shop.marketer,
                       now=at(date(2026, 10, 10)),
                       lines=[{"product": product, "quantity": 3, "held": 2}])
    o.receive_payment(order, amount=order.total, method="cash", actor=shop.finance,
                      token=new_token(), now=at(date(2026, 10, 10)))
    all_held = make_order(shop.customer, warehouse=shop.warehouse, actor=shop.marketer,
                          now=at(date(2026, 11, 20)),
                          lines=[{"product": product, "quantity": 1, "held": 1}])
    assert worklists.repurchase(date(2027, 1, 10)) == 0  # the 2 boxes are still in custody
    cu.pick_up(shop.customer, {order.lines[0].id: 2}, actor=shop.clerk, token=new_token(),
               now=at(date(2026, 11, 20)))
    assert worklists.repurchase(date(2027, 1, 10)) == 1
    [task] = tasks_of(shop.customer, "repurchase")
    assert task.due_date == date(2027, 1, 12) and "2027-01-19" in task.title
    assert all_held.lines[0].taken == 0


def test_planned_follow_up_from_a_contact_log(db, shop):
    marketer, customer = shop.marketer, shop.customer
    record_contact(customer, kind="call", content="说下周来店", next_follow_up=TODAY + timedelta(
        days=5), actor=marketer, now=at(TODAY))
    assert worklists.planned_follow_ups(TODAY) == 1
    assert [(x.kind, x.due_date) for x in tasks_of(customer)] == \
        [("follow_up", TODAY + timedelta(days=5))]


# --- Doing tasks -----------------------------------------------------------------------------------

def test_done_in_one_step_writes_the_contact_log_on_the_timeline(db, shop):
    marketer, customer = shop.marketer, shop.customer
    order_at(shop, at(TODAY) - timedelta(days=3))
    worklists.callbacks(TODAY)
    task = tasks_of(customer)[0]
    done = t.complete_task(task, note="已接通，情况良好", actor=marketer, now=at(TODAY, 11))
    assert done.status == "done" and done.done_on == TODAY
    log = _db.session.get(ContactLog, done.contact_log_id)
    assert log.content == "【购买后回访】已接通，情况良好" and customer.last_contact_at == at(TODAY, 11)
    assert any("已接通" in item.title or "已接通" in item.detail for item in timeline_of(customer))
    # A double tap returns the first result: one contact log.
    t.complete_task(task, note="已接通，情况良好", actor=marketer)
    assert _db.session.scalar(select(func.count()).select_from(ContactLog)) == 1
    with pytest.raises(InvalidInput):
        t.complete_task(tasks_of(customer)[1], note="  ", actor=marketer)


def test_other_marketers_never_reach_a_task(db, shop):
    marketer, customer = shop.marketer, shop.customer
    order_at(shop, at(TODAY) - timedelta(days=3))
    worklists.callbacks(TODAY)
    task = tasks_of(customer)[0]
    stranger = make_user(["marketer"])
    with pytest.raises(NotFound):
        t.get_task_or_404(task.id, stranger)
    with pytest.raises(PermissionDenied):
        t.complete_task(task, note="冒名", actor=stranger)
    assert t.get_task_or_404(task.id, marketer) is task
    with pytest.raises(InvalidInput):
        t.skip_task(task, reason="", actor=marketer)
    t.skip_task(task, reason="住院了", actor=marketer)
    assert task.status == "skipped" and task.skip_reason == "住院了"


def test_today_list_groups_overdue_today_and_coming(db, shop):
    marketer, customer = shop.marketer, shop.customer
    order_at(shop, at(TODAY) - timedelta(days=5))  # day 3 was two days ago
    order_at(shop, at(TODAY) - timedelta(days=3))  # day 3 is today
    for day in (TODAY - timedelta(days=2), TODAY):
        worklists.callbacks(day)
    worklist = t.today_list(marketer.id, TODAY)
    overdue, n_overdue = worklist.sections["overdue"]["callback"]
    assert [x.due_date for x in overdue] == [TODAY - timedelta(days=2)] and n_overdue == 1
    assert [x.due_date for x in worklist.sections["today"]["callback"][0]] == [TODAY]
    assert sorted(x.due_date for x in worklist.sections["upcoming"]["callback"][0]) == \
        [TODAY + timedelta(days=2), TODAY + timedelta(days=4)]
    assert worklist.total("overdue") == 1 and worklist.total("upcoming") == 2
    assert overdue[0].state(TODAY) == "overdue"
    # A long group shows its oldest few, and says how many there are — all in one query.
    statements = []

    def saw(_conn, _cursor, statement, *_args):
        statements.append(statement)
    event.listen(_db.engine, "before_cursor_execute", saw)
    try:
        few = t.today_list(marketer.id, TODAY, per_kind=1)
    finally:
        event.remove(_db.engine, "before_cursor_execute", saw)
    assert few.shown("upcoming") == 1 and few.total("upcoming") == 2
    assert few.sections["upcoming"]["callback"][0][0].due_date == TODAY + timedelta(days=2)
    assert len(statements) == 1
    one_kind = t.today_list(marketer.id, TODAY, kind="callback", section="upcoming")
    assert list(one_kind.sections) == ["upcoming"] and one_kind.shown("upcoming") == 2
    one_section = t.today_list(marketer.id, TODAY, section="overdue")
    assert list(one_section.sections) == ["overdue"] and one_section.total("overdue") == 1
    assert customer.id


def test_reassign_within_the_department_and_tasks_follow_the_customer(db, shop):
    marketer, customer = shop.marketer, shop.customer
    sales = make_department("一部")
    other_dept = make_department("二部")
    marketer.department_id = sales.id
    colleague = make_user(["marketer"], department=sales)
    outsider = make_user(["marketer"], department=other_dept)
    head = make_user(["dept_head"], department=sales)
    order_at(shop, at(TODAY) - timedelta(days=3))
    worklists.callbacks(TODAY)
    _db.session.execute(update(t.Task).values(department_id=sales.id))
    task = tasks_of(customer)[0]
    with pytest.raises(PermissionDenied):
        t.reassign_tasks([task.id], outsider, actor=head)
    assert t.reassign_tasks([task.id], colleague, actor=head) == 1
    assert task.assignee_id == colleague.id
    assert _db.session.scalar(select(AuditEntry).where(AuditEntry.action == "task.reassign"))
    from models.customers import transfer_customers
    transfer_customers([customer.id], outsider, actor=make_user(["manager"]), reason="离职交接")
    _db.session.refresh(task)
    assert task.assignee_id == outsider.id and task.department_id == other_dept.id


# --- Public pool and grades -------------------------------------------------------------------

def idle(customer, days):
    customer.owned_since = at(TODAY) - timedelta(days=days)
    customer.last_contact_at = None


def test_pool_rules_by_behaviour_with_warnings_and_protection(db, shop):
    warehouse, marketer, buyer, product = shop.warehouse, shop.marketer, shop.customer, shop.product
    never_invited = make_customer(marketer, name="从未邀约")
    warned = make_customer(marketer, name="快到期")
    recent = make_customer(marketer, name="刚联系")
    owes = make_customer(marketer, name="欠款")
    planned = make_customer(marketer, name="有计划")
    order = make_order(owes, warehouse=warehouse, actor=marketer, now=at(TODAY) - timedelta(40),
                       lines=[{"product": product, "quantity": 1}])
    assert order.balance_due > 0
    record_contact(planned, kind="call", content="约好下月", next_follow_up=TODAY + timedelta(20),
                   actor=marketer, now=at(TODAY) - timedelta(days=40))
    t.write_tasks([t.task_row("follow_up", (planned.id, marketer.id, None), TODAY + timedelta(20),
                              "contact:1", "约定跟进")])
    for customer in (never_invited, owes, planned):
        idle(customer, 31)
    idle(warned, 25)   # reclaimed in 5 days: warned now (7 days ahead)
    idle(recent, 10)
    idle(buyer, 31)    # a buyer without arrears has 180 days
    buyer_order = order_at(shop, at(TODAY) - timedelta(days=100))
    from models.orders import receive_payment
    receive_payment(buyer_order, amount=buyer_order.balance_due, kind="full", method="cash",
                    actor=make_user(["finance"]), token=new_token())
    written = job_customers.pool_reclaim(TODAY, at(TODAY, 2))
    assert never_invited.status == "pool" and never_invited.owner_id is None
    assert owes.status == "active" and planned.status == "active"
    assert recent.status == "active" and buyer.status == "active"
    assert warned.status == "active"
    [warning] = tasks_of(warned, "pool_warning")
    assert warning.due_date == TODAY and "2026-11-30" in warning.title
    assert written == 2
    assert any(item.kind.startswith("ownership") for item in timeline_of(never_invited))
    assert _db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "customer.reclaim")) == 1
    # The next night: nothing twice (no second warning, nobody moved again).
    assert job_customers.pool_reclaim(TODAY + timedelta(days=1),
                                      at(TODAY + timedelta(days=1), 2)) == 0
    # A follow-up resets the clock; without one the warned customer goes on the 30th.
    assert job_customers.pool_reclaim(date(2026, 11, 30), at(date(2026, 11, 30), 2)) == 1
    _db.session.expire_all()
    assert warned.status == "pool" and tasks_of(warned)[0].status == "skipped"


def test_pool_days_per_rule(db, shop):
    marketer = shop.marketer
    manager = make_user(["manager"])
    event = make_event(manager, status="open", days=5)
    invited_only = make_customer(marketer, name="邀约未到")
    ev.invite(event, invited_only, actor=marketer)
    idle(invited_only, 45)  # "invited but never came" waits 60 days
    assert job_customers.pool_reclaim(TODAY) == 0 and invited_only.status == "active"
    idle(invited_only, 61)
    assert job_customers.pool_reclaim(TODAY) == 1 and invited_only.status == "pool"


def test_grades_from_purchases_and_attendance_manual_wins(db, shop):
    warehouse, marketer, customer, product = (
        shop.warehouse, shop.marketer, shop.customer, shop.product)
    big = make_customer(marketer, name="大客户")
    nobody = make_customer(marketer, name="沉睡")
    manual = make_customer(marketer, name="手工")
    manual.grade, manual.grade_is_manual = "A", True  # set by hand on the customer form
    make_order(big, warehouse=warehouse, actor=marketer,
               lines=[{"product": product, "quantity": 1}])
    for _n in range(2):
        make_order(big, warehouse=warehouse, actor=marketer,
                   lines=[{"product": product, "quantity": 1}])
    order_at(shop, at(TODAY) - timedelta(days=10))
    assert job_customers.grading(TODAY) >= 3
    _db.session.expire_all()
    assert (big.grade, customer.grade, nobody.grade, manual.grade) == ("A", "B", "D", "A")
    assert job_customers.grading(TODAY) == 0


def test_a_grade_given_at_registration_is_manual_and_survives_the_night(db, shop):
    """Issue 26 §3: typed in at registration (or imported), a grade is the person's."""
    given = c.create_customer(c.CustomerData(name="老会员", phone="13700001111", grade="A"),
                              actor=shop.marketer)
    assert given.grade_is_manual
    assert not c.create_customer(c.CustomerData(name="新顾客", phone="13700001112"),
                                 actor=shop.marketer).grade_is_manual
    job_customers.grading(TODAY)
    _db.session.expire_all()
    assert given.grade == "A"


@pytest.mark.parametrize("orders, paid, arrivals, grade", [
    (3, 0, 0, "A"), (1, 1_000_000, 0, "A"), (2, 999_999, 5, "B"), (1, 0, 0, "D"),
    (0, 0, 2, "C"), (0, 0, 1, "D"), (0, 0, 0, "D")])
def test_every_grade_threshold_is_a_setting(db, orders, paid, arrivals, grade):
    """With B from 2 orders and C from 2 arrivals (A: 3 orders or ¥10,000 paid)."""
    update_settings({"grade.b_orders": 2, "grade.c_arrivals": 2}, actor=make_user(["admin"]))
    assert c.grade_of(orders, paid, arrivals, c.grade_rule()) == grade


def test_the_customer_page_says_why_a_grade_was_given(db, shop):
    make_order(shop.customer, warehouse=shop.warehouse, actor=shop.marketer,
               lines=[{"product": shop.product, "quantity": 1}])
    grade, why = job_customers.grade_explained(shop.customer, TODAY + timedelta(days=1))
    assert grade == "B"
    assert why == "近 365 天：订单 1 张，付款 ¥0.00，到会 0 次。 订单满 1 张为 B 级。"


def test_a_birthday_inside_the_lead_still_gets_its_care_task_once(db):
    """Registered on 25 November with a birthday on the 26th (lead 3 days): the task is due
    today, written once; a customer whose task a run before wrote gets no second one."""
    owner = make_user()
    known = make_customer(owner, name="后天生日", birthday_kind="solar", birthday=date(1950, 11, 27))
    assert worklists.care(TODAY - timedelta(days=3)) == 1  # the run that knew 后天生日 (due 24th)
    late = make_customer(owner, name="明天生日", birthday_kind="solar", birthday=date(1950, 11, 26))
    assert worklists.care(TODAY, customer_ids=[late.id]) == 1
    assert [(task.due_date, "11月26日" in task.title) for task in tasks_of(late)] == \
        [(TODAY, True)]
    assert worklists.care(TODAY) == 0 and worklists.care(TODAY + timedelta(days=1)) == 0
    assert [task.due_date for task in tasks_of(known)] == [date(2026, 11, 24)]



def test_care_for_many_new_customers_looks_at_them_a_chunk_at_a_time(db, monkeypatch):
    """An import of 100,000 calls care() with every new id: asked a chunk at a time (a query's
    parameters are limited), every customer is still looked at, and only those."""
    monkeypatch.setattr(worklists, "CARE_CHUNK", 2)
    owner = make_user()
    new = [make_customer(owner, name=f"明天生日{n}", birthday_kind="solar",
                         birthday=date(1950, 11, 26)) for n in range(5)]
    other = make_customer(owner, name="别人", birthday_kind="solar", birthday=date(1950, 11, 26))
    assert worklists.care(TODAY, customer_ids=[x.id for x in new]) == 5
    assert all(len(tasks_of(x)) == 1 for x in new) and tasks_of(other) == []

def test_birthday_month_bonus_once_a_year(db):
    from models import points
    owner = make_user()
    admin = make_user(["admin"])
    solar = make_customer(owner, name="十一月生", birthday_kind="solar", birthday=date(1950, 11, 30))
    lunar = make_customer(owner, name="农历十月初五", birthday_kind="lunar", lunar_month=10,
                          lunar_day=5)  # 13 November 2026
    december = make_customer(owner, name="十二月生", birthday_kind="solar",
                             birthday=date(1950, 12, 1))
    assert points.birthday_bonuses(TODAY) == 0  # the setting is off by default
    update_settings({"points.birthday_bonus": 200}, actor=admin)
    assert points.birthday_bonuses(TODAY) == 2
    assert points.balance_of(solar.id) == 200 and points.balance_of(lunar.id) == 200
    assert points.balance_of(december.id) == 0
    assert points.birthday_bonuses(TODAY + timedelta(days=1)) == 0  # once per month and year
    assert points.birthday_bonuses(date(2026, 12, 1)) == 1
