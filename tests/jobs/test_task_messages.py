"""Messages the nightly worklist jobs make from the tasks they write (#28 §2), when the setting of
the task's kind says so (off by default): the birthday greeting on the birthday, the arrears
reminder before and after the due date (only while money is due), the pickup reminder while goods
are held — each through check_message() (勿发短信 refuses an SMS) and written once for a re-run
night."""
from datetime import date, datetime, timedelta, timezone

import pytest
from flask import g
from sqlalchemy import select

from extensions import db as _db
from jobs import messages as job_messages
from models import custody, messages as m, tasks as t
from models.base import new_token
from models.orders import receive_payment
from models.settings import update_settings
from tests.factories import make_customer, make_order, make_user

UTC = timezone.utc
TODAY = date(2026, 11, 25)


def at(day, hour=2, minute=0):
    """A UTC datetime for a local (Asia/Shanghai, UTC+8) day and time: 02:00, the nightly run."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC) - timedelta(hours=8)


def night(job, day):
    """Run one of the registered job functions for `day`, as the scheduler would at 02:00."""
    return job(day, at(day))


def outbox(customer=None):
    query = select(m.Message).order_by(m.Message.id)
    if customer is not None:
        query = query.where(m.Message.customer_id == customer.id)
    return _db.session.scalars(query).all()


@pytest.fixture
def admin(db):
    return make_user(["admin"])


def turn_on(admin, *kinds):
    update_settings({m.TASK_MESSAGE_SETTINGS[kind]: True for kind in kinds}, actor=admin)
    _db.session.flush()
    g.pop("_settings", None)  # the settings are cached per request


def template(admin, purpose, body, channel="sms"):
    return m.save_template(None, name=purpose, purpose=purpose, body=body, channel=channel,
                           actor=admin)


def test_the_birthday_greeting_goes_on_the_birthday_once(admin):
    owner = make_user(["marketer"], display_name="刘芳")
    customer = make_customer(owner, name="张秀兰", gender="F", birthday_kind="solar",
                             birthday=date(1950, 11, 28))
    refuses_sms = make_customer(owner, name="李大妈", birthday_kind="solar",
                                birthday=date(1950, 11, 28), do_not_sms=True)
    greeting = template(admin, "birthday", "{称呼}，祝您生日快乐！{顾问}")
    # Off by default: the care job writes its task (due 3 days ahead), no message.
    assert night(job_messages.care, TODAY) == 2
    assert night(job_messages.care, date(2026, 11, 28)) == 0 and outbox() == []
    turn_on(admin, "birthday")
    # On: nothing the days before the birthday, the greeting on it, once.
    assert night(job_messages.care, date(2026, 11, 27)) == 0
    assert night(job_messages.care, date(2026, 11, 28)) == 1
    assert night(job_messages.care, date(2026, 11, 28)) == 0  # the re-run night
    [message] = outbox()
    [task] = _db.session.scalars(select(t.Task).where(t.Task.customer_id == customer.id)).all()
    assert (message.customer_id, message.template_id, message.text, message.subject_key,
            message.made_by_job, message.made_by_id) == (
        customer.id, greeting.id, "张阿姨，祝您生日快乐！刘芳", f"task:{task.id}", "care", None)
    assert message.send_after == at(date(2026, 11, 28), 8)  # made at 02:00: sent at 08:00
    assert outbox(refuses_sms) == []  # 勿发短信: check_message refused it


def test_a_wechat_greeting_is_made_for_a_customer_who_refuses_sms(admin):
    customer = make_customer(name="李大妈", birthday_kind="solar", birthday=date(1950, 11, 28),
                             do_not_sms=True)
    template(admin, "birthday", "{称呼}生日快乐", channel="wechat")
    turn_on(admin, "birthday")
    night(job_messages.care, TODAY)
    assert night(job_messages.care, date(2026, 11, 28)) == 1
    assert [(x.channel, x.customer_id) for x in outbox()] == [("wechat", customer.id)]


def test_a_skipped_birthday_task_gets_no_greeting(admin):
    customer = make_customer(name="张秀兰", birthday_kind="solar", birthday=date(1950, 11, 28))
    template(admin, "birthday", "{称呼}生日快乐")
    turn_on(admin, "birthday")
    night(job_messages.care, TODAY)
    [task] = _db.session.scalars(select(t.Task).where(t.Task.customer_id == customer.id)).all()
    t.skip_task(task, reason="已出国", actor=customer.owner)
    assert night(job_messages.care, date(2026, 11, 28)) == 0 and outbox() == []


def test_no_template_no_greeting(admin):
    make_customer(name="张秀兰", birthday_kind="solar", birthday=date(1950, 11, 28))
    turn_on(admin, "birthday")
    night(job_messages.care, TODAY)
    assert night(job_messages.care, date(2026, 11, 28)) == 0 and outbox() == []


def test_arrears_before_and_after_the_due_date(shop, admin):
    before = template(admin, "arrears_before", "{称呼}，您的余款{金额}将于{到期日}到期。")
    after = template(admin, "arrears_after", "{称呼}，您的余款{金额}已于{到期日}到期。")
    turn_on(admin, "arrears")
    order = make_order(shop.customer, warehouse=shop.warehouse, actor=shop.marketer,
                       now=at(TODAY) - timedelta(days=20), due_date=date(2026, 11, 30),
                       lines=[{"product": shop.product, "quantity": 2}])
    due = order.balance_due
    # The run of the 25th writes the task due the 27th (3 days before): no message yet.
    assert night(job_messages.arrears, TODAY) == 1 and outbox() == []
    # The 27th: the reminder before the due date; a re-run writes nothing.
    assert night(job_messages.arrears, date(2026, 11, 27)) == 1
    assert night(job_messages.arrears, date(2026, 11, 27)) == 0
    # The 1st: a task (the day after the due date) and its message after it.
    assert night(job_messages.arrears, date(2026, 12, 1)) == 2
    assert night(job_messages.arrears, date(2026, 12, 1)) == 0
    rows = outbox()
    assert [(x.template_id, x.made_by_job) for x in rows] == [(before.id, "arrears"),
                                                              (after.id, "arrears")]
    amount = f"¥{due // 100:,}.{due % 100:02d}"
    assert rows[0].text == f"王大爷，您的余款{amount}将于11月30日到期。"
    assert rows[1].text == f"王大爷，您的余款{amount}已于11月30日到期。"
    assert rows[0].subject_key != rows[1].subject_key  # one message per task
    # Paid: the next reminder day writes neither a task nor a message.
    receive_payment(order, amount=order.balance_due, kind="balance", method="cash",
                    actor=shop.finance, token=new_token())
    assert night(job_messages.arrears, date(2026, 12, 8)) == 0 and len(outbox()) == 2


def test_an_arrears_task_of_an_order_paid_since_gets_no_message(shop, admin):
    template(admin, "arrears_before", "{称呼}，余款{金额}将于{到期日}到期。")
    turn_on(admin, "arrears")
    order = make_order(shop.customer, warehouse=shop.warehouse, actor=shop.marketer,
                       now=at(TODAY) - timedelta(days=20), due_date=date(2026, 11, 30),
                       lines=[{"product": shop.product, "quantity": 2}])
    night(job_messages.arrears, TODAY)
    receive_payment(order, amount=order.balance_due, kind="balance", method="cash",
                    actor=shop.finance, token=new_token())
    assert night(job_messages.arrears, date(2026, 11, 27)) == 0 and outbox() == []


def test_pickup_reminder_while_goods_are_held(shop, admin):
    template(admin, "pickup", "{称呼}，您寄存的{商品}请来领取。", channel="wechat")
    turn_on(admin, "pickup")
    order = make_order(shop.customer, warehouse=shop.warehouse, actor=shop.marketer,
                       now=at(TODAY) - timedelta(days=31),
                       lines=[{"product": shop.product, "quantity": 3, "held": 3}])
    receive_payment(order, amount=order.balance_due, kind="full", method="cash",
                    actor=shop.finance, token=new_token())
    for entry in _db.session.scalars(select(custody.CustodyEntry)):
        entry.at = at(TODAY) - timedelta(days=30)
    # 30 days quiet on the 25th: the pickup task, due that day, and its message, once.
    assert night(job_messages.custody_and_pickup, TODAY) == 2
    assert night(job_messages.custody_and_pickup, TODAY) == 0
    [message] = outbox()
    assert (message.channel, message.text, message.made_by_job) == (
        "wechat", "王大爷，您寄存的灵芝孢子粉×3请来领取。", "custody")
    # The marketer sees it on "Today" to send from their phone.
    assert m.wechat_to_send(shop.marketer) == [message]


def test_off_by_default_for_every_kind(shop, admin):
    for purpose in ("birthday", "anniversary", "arrears_before", "arrears_after", "pickup"):
        template(admin, purpose, "{称呼}您好")
    assert all(not m.get_setting(key) for key in m.TASK_MESSAGE_SETTINGS.values())
    make_customer(name="张秀兰", birthday_kind="solar", birthday=date(1950, 11, 25))
    make_order(shop.customer, warehouse=shop.warehouse, actor=shop.marketer,
               now=at(TODAY) - timedelta(days=20), due_date=date(2026, 11, 28),
               lines=[{"product": shop.product, "quantity": 2, "held": 2}])
    for job in (job_messages.care, job_messages.arrears, job_messages.custody_and_pickup):
        night(job, TODAY)
    assert outbox() == []
