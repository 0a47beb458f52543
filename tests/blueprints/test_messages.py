"""The message screens (issue #28 §1, §2): templates with a live preview (an unknown field
refused in Chinese, nothing saved), the outbox (scoped, filtered, a keyset page at a time, a
queued message cancelled), a bulk send from an event's invitation list (previewed with the
refusals and the cost, queued once), one message from a customer's page, and the customer's
form of address on the customer form. Hostile input gets a message, never a 500."""
import re
import time

import pytest
from sqlalchemy import func, insert, select

from extensions import db as _db
from models import events as ev, messages as m
from models.base import begin_write, new_token
from models.customers import Customer
from models.settings import update_settings
from models.tasks import write_tasks
from tests.conftest import page_text
from tests.factories import company_today, make_customer, make_department, make_event, make_user
from tests.races import race

BODY = "{称呼}您好，{会议名称}定于{时间}在{地点}举行，{顾问}恭候。"


def count(model=m.Message, *where):
    return _db.session.scalar(select(func.count(model.id)).where(*where))


@pytest.fixture
def admin(db):
    return make_user(["admin"])


@pytest.fixture
def template(admin):
    return m.save_template(None, name="会前提醒", purpose="reminder", body=BODY, actor=admin)


# ---- templates ----------------------------------------------------------------------------

def test_an_admin_writes_a_template_and_an_unknown_field_is_refused(client, login, admin):
    login(admin)
    customer = make_customer(name="张秀兰", gender="F", birth_year=1950)
    page = client.get("/messages/templates/new")
    assert page.status_code == 200
    text = page_text(page)
    for name in m.FIELDS:
        assert f'data-insert-field="{name}"' in page.get_data(as_text=True)
    assert "预览" in text and "条短信" in text
    refused = client.post("/messages/templates/new", data={
        "name": "生日祝福", "purpose": "birthday", "channel": "sms",
        "body": "{姓名}您好，{生日}快乐", "customer_id": customer.id, "is_active": "y"})
    assert refused.status_code == 422
    assert "未知字段 {生日}" in page_text(refused) or "{生日}" in page_text(refused)
    assert count(m.MessageTemplate) == 0
    saved = client.post("/messages/templates/new", data={
        "name": "生日祝福", "purpose": "birthday", "channel": "sms",
        "body": "{称呼}生日快乐！", "customer_id": customer.id, "is_active": "y"})
    assert saved.status_code == 302 and saved.location.endswith("/messages/templates")
    row = _db.session.scalar(select(m.MessageTemplate))
    assert (row.name, row.purpose, row.body) == ("生日祝福", "birthday", "{称呼}生日快乐！")
    listed = page_text(client.get("/messages/templates"))
    assert "生日祝福" in listed and "生日祝福" in listed
    edited = client.post(f"/messages/templates/{row.id}", data={
        "name": "生日祝福", "purpose": "birthday", "channel": "wechat",
        "body": "{称呼}生日快乐，身体健康！", "is_active": "y"})
    assert edited.status_code == 302
    _db.session.refresh(row)
    assert row.channel == "wechat" and "身体健康" in row.body


def test_a_manager_reads_a_template_but_cannot_save_it(client, login, template):
    login("manager")
    page = client.get(f"/messages/templates/{template.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "会前提醒" in html
    assert "<fieldset class=\"col-lg-7\" disabled>" in html and 'data-testid="template-save"' \
        not in html
    assert f'<input type="hidden" name="body" value="{BODY}">' in html  # for the preview
    assert "新建模板" not in page_text(client.get("/messages/templates"))
    assert client.post(f"/messages/templates/{template.id}", data={"name": "x"}).status_code \
        == 403
    assert client.get("/messages/templates/999999").status_code == 404


def test_the_live_preview_fills_the_fields_for_a_real_customer(client, login, admin):
    login(admin)
    customer = make_customer(name="张秀兰", gender="F", birth_year=1950)
    customer.address_form = "老师"
    _db.session.flush()
    response = client.get("/messages/preview", query_string={
        "body": "{称呼}您好，{顾问}问候您。", "customer_id": customer.id})
    text = page_text(response)
    assert response.status_code == 200
    assert "张老师您好" in text
    assert "字 · 1 条短信" in text
    long = client.get("/messages/preview", query_string={"body": "好" * 71})
    assert "71 字 · 2 条短信" in page_text(long)
    unknown = client.get("/messages/preview", query_string={"body": "{生日}快乐",
                                                            "customer_id": customer.id})
    assert "{生日}" in page_text(unknown) and 'data-testid="preview-error"' in \
        unknown.get_data(as_text=True)


@pytest.mark.parametrize("hostile", ["<script>alert(1)</script>{称呼}", "{" * 600, "}{",
                                     "{{姓名}}", "\x00\x1f", "9" * 40])
def test_hostile_previews_and_templates_get_a_message(client, login, admin, hostile):
    login(admin)
    customer = make_customer()
    response = client.get("/messages/preview", query_string={
        "body": hostile, "customer_id": hostile, "template_id": hostile, "channel": hostile})
    assert response.status_code in (200, 400)  # 400: the app refuses a NUL in any request
    assert "<script>alert" not in response.get_data(as_text=True)
    saved = client.post("/messages/templates/new", data={
        "name": hostile[:40], "purpose": hostile, "channel": "sms", "body": hostile,
        "customer_id": customer.id})
    assert saved.status_code in (302, 400, 422)


# ---- the outbox ---------------------------------------------------------------------------

def _messages(customer, n, *, channel="sms"):
    return [m.queue_message(customer, text=f"第{i}条", channel=channel,
                            subject_key=f"t:{customer.id}:{i}", job="test")
            for i in range(n)]


def test_a_marketer_sees_the_messages_of_their_customers_only(client, login, db):
    department = make_department("销售一部")
    mine, theirs = (make_user(["marketer"], department=department) for _ in range(2))
    ours = _messages(make_customer(mine, name="我的顾客"), 2)
    other = _messages(make_customer(theirs, name="别人的顾客"), 1)
    login(mine)
    text = page_text(client.get("/messages/"))
    assert "我的顾客" in text and "别人的顾客" not in text
    assert theirs.display_name not in text  # no colleague in the marketer filter
    assert client.post(f"/messages/{other[0].id}/cancel").status_code == 404
    assert client.post(f"/messages/{ours[0].id}/cancel",
                       data={"next": "/messages/?status=queued"}).status_code == 302
    _db.session.refresh(ours[0])
    assert ours[0].status == "cancelled"
    again = client.post(f"/messages/{ours[0].id}/cancel", follow_redirects=True)
    assert "只有待发送的消息才能取消" in page_text(again) or "待发送" in page_text(again)


def test_the_outbox_filters_and_pages_by_keyset(client, login, db):
    manager = login("manager")
    update_settings({"messages.daily_cap": 50}, actor=manager)
    rows = _messages(make_customer(name="刘大爷"), 30) + _messages(make_customer(name="赵大妈"), 30)
    wechat = _messages(make_customer(name="微信顾客"), 1, channel="wechat")
    first = client.get("/messages/")
    html = first.get_data(as_text=True)
    assert html.count('data-testid="message-') == 50
    assert f'data-testid="message-{wechat[0].id}"' in html  # newest first
    older = re.search(r'href="([^"]*before=\d+[^"]*)"', html).group(1).replace("&amp;", "&")
    second = client.get(older).get_data(as_text=True)
    assert second.count('data-testid="message-') == 11
    assert f'data-testid="message-{rows[0].id}"' in second
    only = client.get("/messages/?channel=wechat").get_data(as_text=True)
    assert only.count('data-testid="message-') == 1
    m.cancel_message(rows[5], actor=None)
    _db.session.flush()
    cancelled = client.get("/messages/?status=cancelled").get_data(as_text=True)
    assert cancelled.count('data-testid="message-') == 1
    bad = client.get("/messages/?status=x&channel=<b>&event_id=abc&marketer_id=-1"
                     "&day_from=2026-13-40&before=99999999999999999999")
    assert bad.status_code == 200


def test_outbox_query_is_an_operation_a_bench_can_call(db):
    manager = make_user(["manager"])
    customer = make_customer()
    rows = _messages(customer, 3)
    page = m.outbox_page(manager, m.OutboxFilters(), limit=2)
    assert [row.id for row in page.rows] == [rows[2].id, rows[1].id]
    assert page.next_before == rows[1].id
    rest = m.outbox_page(manager, m.OutboxFilters(before_id=page.next_before), limit=2)
    assert [row.id for row in rest.rows] == [rows[0].id] and rest.next_before is None


# ---- bulk send from an event's invitation list ----------------------------------------------

@pytest.fixture
def guests(db, template):
    marketer = make_user(["marketer"], department=make_department("销售一部"))
    event = make_event(title="养生讲座")
    people = [make_customer(marketer, name=name, gender="F", birth_year=1950)
              for name in ("张秀兰", "李桂英", "王淑珍")]
    people[1].do_not_sms = True
    late = make_customer(marketer, name="赵未确认")
    for customer in people + [late]:
        invitation = ev.invite(event, customer, actor=marketer)
        if customer is not late:
            ev.change_invitation(invitation, "confirmed", actor=marketer)
    _db.session.flush()
    return marketer, event, people


def test_a_bulk_send_is_previewed_then_queued_once(client, login, guests, template):
    marketer, event, people = guests
    login(marketer)
    invitations = client.get(f"/events/{event.id}/invitations").get_data(as_text=True)
    assert 'data-testid="send-to-guests"' in invitations
    preview = client.get(f"/messages/events/{event.id}/send",
                         query_string={"template_id": template.id, "who": "confirmed"})
    text = page_text(preview)
    assert preview.status_code == 200
    assert "将排队 2 条消息" in text and "1 位不发送" in text and "勿发短信" in text
    assert "张阿姨您好，养生讲座定于" in text and "赵未确认" not in text
    assert count() == 0  # a preview writes nothing
    token = new_token()
    data = {"template_id": template.id, "channel": "", "who": "confirmed", "token": token}
    queued = client.post(f"/messages/events/{event.id}/send", data=data)
    assert queued.status_code == 302 and f"event_id={event.id}" in queued.location
    rows = _db.session.scalars(select(m.Message).order_by(m.Message.id)).all()
    assert [row.customer_id for row in rows] == sorted([people[0].id, people[2].id])
    assert {row.made_by_id for row in rows} == {marketer.id}
    again = client.post(f"/messages/events/{event.id}/send", data=data, follow_redirects=True)
    assert "没有排队任何消息" in page_text(again)
    assert count() == 2
    stale = client.post(f"/messages/events/{event.id}/send",
                        data={**data, "token": "not-a-token"})
    assert stale.status_code == 422 and "表单已过期" in page_text(stale)
    assert count() == 2


def test_the_list_as_filtered_and_a_marketers_scope(client, login, guests, template):
    marketer, event, people = guests
    other = make_customer(make_user(["marketer"]), name="别组顾客")
    ev.change_invitation(ev.invite(event, other, actor=other.owner), "confirmed",
                         actor=other.owner)
    _db.session.flush()
    login(marketer)
    invited = page_text(client.get(f"/messages/events/{event.id}/send", query_string={
        "template_id": template.id, "who": "filter", "status": "invited"}))
    assert "将排队 1 条消息" in invited and "赵" in invited
    confirmed = page_text(client.get(f"/messages/events/{event.id}/send", query_string={
        "template_id": template.id, "who": "confirmed"}))
    assert "别组顾客" not in confirmed


def test_five_thousand_guests_are_queued_in_one_transaction(db, template):
    """The batch reads the outbox in chunks and writes its rows in one statement: 5,000
    confirmed guests previewed and queued, a second send queues none of them again."""
    manager, owner = make_user(["manager"]), make_user(["marketer"])
    event = make_event(title="大型讲座", capacity=10000)
    n = 5000
    _db.session.execute(insert(Customer), [
        {"name": f"顾客{i}", "name_pinyin": f"guke{i}", "name_initials": "gk",
         "phone": f"+86139{i:08d}", "phone_reversed": f"139{i:08d}"[::-1],
         "owner_id": owner.id, "department_id": owner.department_id} for i in range(n)])
    ids = _db.session.scalars(select(Customer.id).where(Customer.owner_id == owner.id)).all()
    _db.session.execute(insert(ev.Invitation), [
        {"event_id": event.id, "customer_id": customer_id, "inviter_id": owner.id,
         "status": "confirmed"} for customer_id in ids])
    started = time.perf_counter()
    preview = m.preview_bulk(event, template, m.bulk_recipients(event, manager),
                             channel="sms")
    previewed = time.perf_counter() - started
    assert len(preview.ready) == n and preview.cost_fen >= n * 4
    queued, refused = m.queue_bulk(event, template, m.bulk_recipients(event, manager),
                                   channel="sms", actor=manager)
    assert len(queued) == n and refused == [] and count() == n
    again, refused = m.queue_bulk(event, template, m.bulk_recipients(event, manager),
                                  channel="sms", actor=manager)
    assert again == [] and len(refused) == n and count() == n
    print(f"preview of {n}: {previewed:.2f} s")


# ---- one message to one customer ----------------------------------------------------------

def test_one_message_from_a_customers_page(client, login, db, template):
    marketer = make_user(["marketer"])
    customer = make_customer(marketer, name="张秀兰", gender="F", birth_year=1950)
    login(marketer)
    page = client.get(f"/customers/{customer.id}")
    assert 'data-testid="send-message"' in page.get_data(as_text=True)
    form = client.get(f"/messages/customers/{customer.id}/new")
    assert form.status_code == 200
    token = new_token()
    sent = client.post(f"/messages/customers/{customer.id}/new", data={
        "template_id": 0, "text": "{称呼}，明天的讲座别忘了。", "channel": "sms",
        "token": token})
    assert sent.status_code == 302 and sent.location.endswith(f"/customers/{customer.id}")
    row = _db.session.scalar(select(m.Message))
    assert row.text == "张阿姨，明天的讲座别忘了。" and row.made_by_id == marketer.id
    twice = client.post(f"/messages/customers/{customer.id}/new", data={
        "template_id": 0, "text": "{称呼}，明天的讲座别忘了。", "channel": "sms",
        "token": token})
    assert twice.status_code == 422 and count() == 1
    needs_event = client.post(f"/messages/customers/{customer.id}/new", data={
        "template_id": template.id, "text": "", "channel": "sms", "token": new_token()})
    assert needs_event.status_code == 422 and "{会议名称}" in page_text(needs_event)
    timeline = page_text(client.get(f"/customers/{customer.id}"))
    assert "明天的讲座别忘了" in timeline


def test_do_not_sms_and_no_mobile_are_told_clearly(client, login, db):
    marketer = make_user(["marketer"])
    quiet = make_customer(marketer, name="王勿扰", do_not_sms=True)
    login(marketer)
    page = page_text(client.get(f"/messages/customers/{quiet.id}/new"))
    assert "勿发短信" in page and "仍可发微信" in page
    refused = client.post(f"/messages/customers/{quiet.id}/new", data={
        "template_id": 0, "text": "您好", "channel": "sms", "token": new_token()})
    assert refused.status_code == 422 and "勿发短信" in page_text(refused) and count() == 0
    wechat = client.post(f"/messages/customers/{quiet.id}/new", data={
        "template_id": 0, "text": "您好", "channel": "wechat", "token": new_token()})
    assert wechat.status_code == 302 and count() == 1
    landline = make_customer(marketer, name="李座机")
    landline.phone = "+861065123456"
    _db.session.flush()
    no_mobile = client.post(f"/messages/customers/{landline.id}/new", data={
        "template_id": 0, "text": "您好", "channel": "sms", "token": new_token()})
    assert no_mobile.status_code == 422 and "没有手机号" in page_text(no_mobile)


@pytest.mark.parametrize("hostile", ["<img src=x onerror=alert(1)>", "{未知}", "x" * 600,
                                     "{", "\u202e反向"])
def test_hostile_messages_get_a_message(client, login, db, hostile):
    marketer = make_user(["marketer"])
    customer = make_customer(marketer)
    login(marketer)
    response = client.post(f"/messages/customers/{customer.id}/new", data={
        "template_id": hostile, "text": hostile, "channel": hostile, "token": new_token(),
        "next": "https://evil.example/"})
    assert response.status_code in (302, 422)
    if response.status_code == 302:
        assert "evil" not in response.location
    assert "<img src=x" not in response.get_data(as_text=True)


def test_another_marketers_customer_is_not_found(client, login, db):
    customer = make_customer(make_user(["marketer"]))
    login("marketer")
    assert client.get(f"/messages/customers/{customer.id}/new").status_code == 404
    assert client.post(f"/messages/customers/{customer.id}/new", data={
        "text": "您好", "channel": "sms", "token": new_token()}).status_code == 404


# ---- the customer's form of address -------------------------------------------------------

def test_the_form_of_address_is_edited_on_the_customer_form(client, login, db):
    marketer = make_user(["marketer"])
    customer = make_customer(marketer, name="陈红", gender="F", birth_year=1950)
    login(marketer)
    form = client.get(f"/customers/{customer.id}/edit")
    assert 'name="address_form"' in form.get_data(as_text=True)
    data = {"name": "陈红", "phone": customer.phone_national, "gender": "F",
            "birth_year": "1950", "address_form": "老师"}
    assert client.post(f"/customers/{customer.id}/edit", data=data).status_code == 302
    _db.session.refresh(customer)
    assert customer.address_form == "老师" and m.salutation_of(customer) == "陈老师"
    refused = client.post(f"/customers/{customer.id}/edit",
                          data={**data, "address_form": "{姓名}"})
    assert refused.status_code == 422 and "称呼" in page_text(refused)
    _db.session.refresh(customer)
    assert customer.address_form == "老师"


def test_two_bulk_sends_at_once_queue_each_guest_once(app, committed_db):
    """Two people confirm the same bulk send at the same moment (PostgreSQL and SQLite, for
    real): the outbox's unique key lets one message per guest through, and the losing side
    refuses the taken ones instead of failing."""
    manager = make_user(["manager"])
    template = m.save_template(None, name="并发提醒", body=BODY, actor=manager)
    event = make_event(manager, title="并发讲座")
    owner = make_user(["marketer"])
    for i in range(40):
        customer = make_customer(owner, name=f"来宾{i}")
        ev.change_invitation(ev.invite(event, customer, actor=owner), "confirmed", actor=owner)
    committed_db.session.commit()
    ids = (manager.id, template.id, event.id)

    def send(_):
        begin_write()
        actor = committed_db.session.get(type(manager), ids[0])
        queued, refused = m.queue_bulk(
            committed_db.session.get(ev.Event, ids[2]),
            committed_db.session.get(m.MessageTemplate, ids[1]),
            m.bulk_recipients(committed_db.session.get(ev.Event, ids[2]), actor),
            channel="sms", actor=actor)
        assert len(queued) + len(refused) == 40
        committed_db.session.commit()
    assert race(send, range(2), app=app) == []
    committed_db.session.rollback()  # a new transaction sees what the threads committed
    assert count() == 40
    assert committed_db.session.scalar(select(func.count(func.distinct(m.Message.customer_id)))) \
        == 40


def test_a_care_task_on_today_links_to_a_message(client, login, db):
    marketer = make_user(["marketer"])
    customer = make_customer(marketer, name="孙桂兰")
    write_tasks([{"kind": "birthday", "customer_id": customer.id, "assignee_id": marketer.id,
                  "department_id": marketer.department_id, "due_date": company_today(),
                  "title": "生日关怀"}])
    login(marketer)
    html = client.get("/tasks/").get_data(as_text=True)
    link = re.search(r'href="([^"]*)" data-testid="task-message"', html).group(1)
    assert link.startswith(f"/messages/customers/{customer.id}/new?next=")
    page = client.get(link.replace("&amp;", "&"))
    assert page.status_code == 200 and 'value="/tasks/"' in page.get_data(as_text=True)


def test_a_provider_that_cannot_send_is_told_on_the_outbox_and_the_settings(
        client, login, admin, monkeypatch):
    """Aliyun chosen without its AccessKey in the environment: the outbox says the SMS wait
    (and why), and so does the settings page's 消息 section; the log provider says nothing."""
    monkeypatch.delenv("ALIBABA_CLOUD_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", raising=False)
    login(admin)
    assert 'data-testid="provider-problem"' not in client.get("/messages/").get_data(as_text=True)
    update_settings({"messages.provider": "aliyun"}, actor=admin)
    _db.session.commit()
    outbox = page_text(client.get("/messages/"))
    assert "短信暂未发出，正在发件箱中等待" in outbox and "ALIBABA_CLOUD_ACCESS_KEY_ID" in outbox
    settings_page = client.get("/admin/settings").get_data(as_text=True)
    assert 'data-testid="settings-problem-messages"' in settings_page
