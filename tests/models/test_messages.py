"""Messages (issue #28 §1): templates render with each named field, an unknown field refused in
Chinese, the length and SMS parts, the form of address, and the rules of check_message() each
on both sides — 勿发短信, no mobile, quiet hours (queued until the morning), the cap per day and
the dedupe by the unique key; the messages on the customer's timeline."""
from datetime import date, datetime, timedelta, timezone

import pytest
from flask import g
from flask_babel import force_locale
from sqlalchemy import func, select

from extensions import db as _db
from jobs import messages as job_messages
from models import events as ev, messages as m
from models.base import InvalidInput
from models.settings import update_settings
from models.timeline import timeline_of
from tests.factories import make_customer, make_event, make_user

UTC = timezone.utc
DAY = date(2026, 11, 25)


def at(day, hour=10, minute=0):
    """A UTC datetime for a local (Asia/Shanghai, UTC+8) day and time."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC) - timedelta(hours=8)


def count():
    return _db.session.scalar(select(func.count(m.Message.id)))


@pytest.fixture
def admin(db):
    return make_user(["admin"])


@pytest.fixture
def template(admin):
    return m.save_template(None, name="会议提醒", purpose="reminder",
                           body="{称呼}您好，{会议名称}定于{时间}在{地点}举行。{顾问}",
                           actor=admin)


def test_every_field_renders(db):
    owner = make_user(["marketer"], display_name="刘芳", phone="13900001111")
    customer = make_customer(owner, name="张秀兰", gender="F", birth_year=1950)
    event = make_event(title="健康讲座")
    values = m.fields_for(customer, event=event, amount_fen=123450, due=date(2026, 12, 8),
                          product="灵芝孢子粉")
    body = "".join(f"[{{{name}}}]" for name in m.FIELDS)
    text = m.render_text(m.check_body(body), values)
    start = event.starts_at.astimezone(timezone(timedelta(hours=8)))
    assert text == (f"[张秀兰][张阿姨][健康讲座][{start.month}月{start.day}日 {start:%H:%M}]"
                    "[幸福酒店三楼][刘芳][13900001111][¥1,234.50][12月8日][灵芝孢子粉]")


def test_an_unknown_field_is_refused_in_chinese(admin):
    with force_locale("zh_Hans_CN"), pytest.raises(InvalidInput) as refused:
        m.save_template(None, name="坏模板", body="{姓名}您好，{生日}快乐", actor=admin)
    assert "{生日}" in refused.value.message and "未知" in refused.value.message
    with pytest.raises(InvalidInput):
        m.save_template(None, name="坏模板", body="{姓名您好", actor=admin)
    assert _db.session.scalar(select(func.count(m.MessageTemplate.id))) == 0


def test_a_field_without_a_value_is_refused(db):
    customer = make_customer()
    with pytest.raises(InvalidInput):
        m.render_text("{会议名称}明天见", m.fields_for(customer))


@pytest.mark.parametrize("chars, parts", [(0, 0), (1, 1), (70, 1), (71, 2), (134, 2),
                                          (135, 3)])
def test_length_and_parts(chars, parts):
    assert m.sms_length("字" * chars) == m.Length(chars, parts)


def test_the_form_of_address(db):
    assert m.salutation_of(make_customer(name="张秀兰", gender="F", birth_year=1950)) == "张阿姨"
    assert m.salutation_of(make_customer(name="李建国", gender="M", birth_year=1948)) == "李叔叔"
    assert m.salutation_of(make_customer(name="王丽", gender="F", birth_year=1990)) == "王女士"
    assert m.salutation_of(make_customer(name="欧阳明", gender="M")) == "欧阳先生"
    assert m.salutation_of(make_customer(name="赵一")) == "赵一"
    kept = make_customer(name="陈红", gender="F", birth_year=1950)
    kept.address_form = "老师"
    assert m.salutation_of(kept) == "陈老师"


def queue(customer, template=None, *, subject="event:1", now=None, channel="sms", text="明天见"):
    return m.queue_message(customer, text=text, channel=channel, template=template,
                           subject_key=subject, now=now or at(DAY), job="test")


def test_do_not_sms_refuses_an_sms_and_allows_wechat(template):
    customer = make_customer(do_not_sms=True)
    with force_locale("zh_Hans_CN"), pytest.raises(m.MessageRefused) as refused:
        queue(customer, template)
    assert "勿发短信" in refused.value.message
    assert count() == 0
    assert queue(customer, template, channel="wechat").status == "queued"
    assert queue(make_customer(), template).phone.startswith("+861")


def test_no_mobile_refuses_an_sms(template):
    customer = make_customer()
    customer.phone = "+861065123456"  # a landline
    with pytest.raises(m.MessageRefused):
        queue(customer, template)
    assert count() == 0


def test_quiet_hours_hold_a_message_until_the_morning(template):
    customer = make_customer()
    day_time = queue(customer, template, subject="a", now=at(DAY, 20, 59))
    assert day_time.send_after == at(DAY, 20, 59)
    evening = queue(customer, template, subject="b", now=at(DAY, 21, 0))
    assert evening.send_after == at(DAY + timedelta(days=1), 8)
    night = queue(make_customer(), template, subject="c", now=at(DAY, 3, 30))
    assert night.send_after == at(DAY, 8)
    morning = queue(make_customer(), template, subject="d", now=at(DAY, 8, 0))
    assert morning.send_after == at(DAY, 8)


def test_quiet_hours_are_a_setting(template, admin):
    update_settings({"messages.quiet_from_hour": 12, "messages.quiet_until_hour": 14},
                    actor=admin)
    _db.session.flush()
    _db.session.expire_all()
    g.pop("_settings", None)  # the settings are cached per request
    assert queue(make_customer(), template, subject="a", now=at(DAY, 13)).send_after == \
        at(DAY, 14)
    assert queue(make_customer(), template, subject="b", now=at(DAY, 22)).send_after == \
        at(DAY, 22)


def test_the_cap_per_customer_per_day(template):
    customer = make_customer()
    for n in range(3):
        queue(customer, template, subject=f"s{n}", now=at(DAY, 9 + n))
    with force_locale("zh_Hans_CN"), pytest.raises(m.MessageRefused):
        queue(customer, template, subject="s3", now=at(DAY, 15))
    assert count() == 3
    # the next company day (16:00 UTC is midnight in Shanghai) counts afresh
    assert queue(customer, template, subject="s3", now=at(DAY + timedelta(days=1), 0, 1))
    # a cancelled message does not count
    other = make_customer()
    first = queue(other, template, subject="x0")
    m.cancel_message(first, actor=None)
    for n in range(1, 4):
        queue(other, template, subject=f"x{n}")


def test_the_same_template_for_the_same_subject_only_once(template, admin):
    customer = make_customer()
    queue(customer, template, subject="event:7")
    with pytest.raises(m.MessageRefused):
        queue(customer, template, subject="event:7")
    assert count() == 1
    queue(customer, template, subject="event:8")  # another subject
    other = m.save_template(None, name="确认", body="{姓名}已确认", actor=admin)
    queue(customer, other, subject="event:7")  # another template
    queue(make_customer(), template, subject="event:7")  # another customer
    assert count() == 4


def test_the_unique_key_refuses_what_the_check_did_not_see(template, monkeypatch):
    customer = make_customer()
    queue(customer, template, subject="event:7")
    monkeypatch.setattr(m, "existing_message", lambda *args: None)  # a concurrent request
    with pytest.raises(m.MessageRefused):
        queue(customer, template, subject="event:7")
    assert count() == 1


def test_cost_counts_sms_parts(template):
    assert queue(make_customer(), template, subject="a", text="字" * 71).cost_fen == 8
    assert queue(make_customer(), template, subject="b", channel="wechat",
                 text="字" * 71).cost_fen == 0


def test_messages_are_on_the_timeline(template):
    customer = make_customer()
    queue(customer, template, text="张阿姨您好")
    items = [item for item in timeline_of(customer) if item.kind.startswith("message.")]
    assert [(item.kind, item.detail) for item in items] == [("message.sms", "张阿姨您好")]



# ---- making messages (§2) -------------------------------------------------------------------

def guests(event, planner, n, *, status="confirmed", **fields):
    made = []
    for i in range(n):
        customer = make_customer(name=f"客户{i}", **fields)
        invitation = ev.invite(event, customer, actor=planner)
        if status != "invited":
            ev.change_invitation(invitation, status, actor=planner)
        made.append(customer)
    _db.session.flush()
    return made


@pytest.fixture
def planner(db):
    return make_user(["manager"])


def test_an_event_bulk_is_previewed_then_queued_for_confirmed_guests(template, planner):
    event = make_event(planner, title="健康讲座")
    confirmed = guests(event, planner, 3, gender="F", birth_year=1950)
    guests(event, planner, 2, status="invited")
    refused = guests(event, planner, 1, do_not_sms=True)[0]
    now = at(DAY, 10)
    drafts = m.preview_event_messages(event, template, now=now)
    assert count() == 0  # a preview writes nothing
    assert sorted(d.customer.id for d in drafts) == sorted(c.id for c in confirmed + [refused])
    assert all(d.text.startswith("客阿姨您好，健康讲座") for d in drafts if not d.refused)
    assert [d.customer for d in drafts if d.refused] == [refused]
    queued, skipped = m.queue_event_messages(event, template, actor=planner, now=now)
    assert len(queued) == 3 and [d.customer for d in skipped] == [refused]
    assert {q.event_id for q in queued} == {event.id}
    assert {q.subject_key for q in queued} == {f"event:{event.id}"}
    # a second press queues nothing more: each is refused as already sent
    again, skipped = m.queue_event_messages(event, template, actor=planner, now=now)
    assert again == [] and len(skipped) == 4 and count() == 3


def test_one_message_from_a_customer_page(template, admin):
    customer = make_customer(name="王建国", gender="M", birth_year=1950)
    message = m.queue_customer_message(customer, text="{称呼}，您的药到了", channel="sms",
                                       actor=admin, token="t1", now=at(DAY))
    assert message.text == "王叔叔，您的药到了" and message.made_by_id == admin.id
    with pytest.raises(m.MessageRefused):  # the same form submitted twice
        m.queue_customer_message(customer, text="{称呼}，您的药到了", channel="sms",
                                 actor=admin, token="t1", now=at(DAY))
    with pytest.raises(InvalidInput):
        m.queue_customer_message(customer, text="{未知}", channel="sms", actor=admin,
                                 token="t2", now=at(DAY))
    assert count() == 1


def test_the_nightly_reminder_is_queued_once_for_a_rerun_night(template, planner):
    event = make_event(planner, days=1)
    event.starts_at = at(DAY + timedelta(days=1), 14)
    later = make_event(planner, days=2)
    later.starts_at = at(DAY + timedelta(days=2), 14)
    confirmed = guests(event, planner, 2)
    guests(event, planner, 1, status="invited")
    guests(later, planner, 2)
    night = at(DAY, 2)
    assert job_messages.event_reminders(DAY, night) == 2
    assert job_messages.event_reminders(DAY, night) == 0  # the re-run writes nothing
    rows = _db.session.scalars(select(m.Message)).all()
    assert sorted(r.customer_id for r in rows) == sorted(c.id for c in confirmed)
    assert {r.made_by_job for r in rows} == {"event-reminders"}
    assert {r.send_after for r in rows} == {at(DAY, 8)}  # made at 02:00: sent at 08:00


def test_no_reminder_template_no_reminders(planner):
    event = make_event(planner, days=1)
    event.starts_at = at(DAY + timedelta(days=1), 14)
    guests(event, planner, 1)
    assert job_messages.event_reminders(DAY, at(DAY, 2)) == 0


def test_a_free_text_twice_is_refused_by_the_partial_unique_index(admin, monkeypatch):
    customer = make_customer()
    m.queue_customer_message(customer, text="您好", channel="sms", actor=admin, token="t1")
    monkeypatch.setattr(m, "existing_message", lambda *args: None)  # a concurrent request
    with pytest.raises(m.MessageRefused):
        m.queue_customer_message(customer, text="您好", channel="sms", actor=admin, token="t1")
    assert count() == 1


def test_a_bulk_meeting_messages_queued_since_its_preview_queues_the_others(template, planner,
                                                                           monkeypatch):
    """The bulk checks its guests in two queries and writes them at once; when another request
    queued some since (the unique key refuses the batch), each is queued again one by one: the
    others are queued, the ones already there refused — nothing twice, nothing lost."""
    event = make_event(planner, title="健康讲座")
    first, second, third = guests(event, planner, 3)
    now = at(DAY, 10)
    m.queue_event_messages(event, template, actor=planner, now=now)
    _db.session.execute(m.Message.__table__.delete().where(
        m.Message.customer_id.in_([first.id, third.id])))
    _db.session.expire_all()
    nobody = m.Known(frozenset(), {}, 10, now)
    monkeypatch.setattr(m, "known_for", lambda *args, **kwargs: nobody)  # a stale preview
    queued, refused = m.queue_event_messages(event, template, actor=planner, now=now)
    assert sorted(q.customer_id for q in queued) == sorted([first.id, third.id])
    assert [d.customer.id for d in refused] == [second.id] and count() == 3
    assert all(q.params and "会议名称" in q.params for q in queued)
