"""Follow-up over HTTP (#27 §4): the outcome buttons of a task's done form (未接通 → tomorrow's
attempt, the head told after the last; 拒绝 → one tap sets 勿扰), a task due later refused
without a reason, the purchase intent heard on a call and on the customer's page, experience
visits, the "意向强烈" list per marketer; bad input writes nothing."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from formatting import local_day
from models import customers as c, tasks as t
from models.base import utcnow
from models.settings import update_settings
from tests.conftest import page_text
from tests.factories import make_customer, make_department, make_user


@pytest.fixture
def work(db):
    sales = make_department("一部")
    marketer = make_user(["marketer"], display_name="刘芳", department=sales)
    head = make_user(["dept_head"], display_name="陈经理", department=sales)
    customer = make_customer(marketer, name="王大爷", phone="13812348888")
    today = local_day(utcnow())
    ident = (customer.id, marketer.id, sales.id)
    t.write_tasks([t.task_row("callback", ident, today, "order:1", "第3天：使用指导"),
                   t.task_row("birthday", ident, today + timedelta(days=3), "birthday:x", "生日")])
    return marketer, head, customer, today


def task_of(db, customer, kind="callback", attempt=1):
    return db.session.scalar(select(t.Task).where(t.Task.customer_id == customer.id,
                                                  t.Task.kind == kind,
                                                  t.Task.attempt == attempt))


def switch(client, login, user):
    client.post("/auth/logout")
    return login(user)


def post(client, url, **data):
    return client.post(url, data=data, headers={"HX-Request": "true"})


def count(db, model):
    return db.session.scalar(select(func.count()).select_from(model))


def test_no_answer_moves_the_call_to_tomorrow_and_then_to_the_head(client, login, work, db):
    marketer, head, customer, today = work
    update_settings({"tasks.max_attempts": 2}, actor=make_user(["admin"]))
    login(marketer)
    task = task_of(db, customer)
    response = post(client, f"/tasks/{task.id}/done", kind="call", outcome="no_answer")
    assert response.status_code == 200 and "未接通" in page_text(response)
    second = task_of(db, customer, attempt=2)
    assert (second.due_date, second.status) == (today + timedelta(days=1), "open")
    assert "第 2 次（前 1 次未接通）" in page_text(client.get("/tasks/"))  # in "coming"
    # The second attempt, unanswered too: the department head gets the customer.
    post(client, f"/tasks/{second.id}/done", kind="call", outcome="no_answer",
         early_reason="今天正好有空")
    escalation = task_of(db, customer, kind="escalation")
    assert escalation.assignee_id == head.id and escalation.status == "open"
    switch(client, login, head)
    team = page_text(client.get("/tasks/team"))
    assert "多次未接通 1" in team
    mine = page_text(client.get("/tasks/", query_string={"assignee": head.id}))
    assert "王大爷" in mine and "已打 2 次未接通" in mine


def test_refused_offers_do_not_call_in_one_tap(client, login, work, db):
    marketer, head, customer, today = work
    login(marketer)
    task = task_of(db, customer)
    response = post(client, f"/tasks/{task.id}/done", kind="call", outcome="refused",
                    note_text="说别再打了")
    assert "设为勿扰（不再电话联系）" in page_text(response)
    assert task_of(db, customer, attempt=2) is None
    answered = post(client, f"/tasks/{task.id}/do-not-call")
    assert answered.status_code == 200 and "设为勿扰" not in page_text(answered)
    db.session.refresh(customer)
    assert customer.do_not_call is True
    assert "设为勿扰" not in page_text(client.get("/tasks/"))


def test_bad_outcome_future_task_and_anothers_task_write_nothing(client, login, work, db):
    marketer, head, customer, today = work
    task = task_of(db, customer)
    login(make_user(["marketer"]))
    assert post(client, f"/tasks/{task.id}/done", note="冒名").status_code == 404
    assert post(client, f"/tasks/{task.id}/do-not-call").status_code == 404
    switch(client, login, marketer)
    odd = post(client, f"/tasks/{task.id}/done", note="好", outcome="maybe")
    assert odd.status_code == 422 and "请选择回访结果" in page_text(odd)
    bad_intent = post(client, f"/tasks/{task.id}/done", note="好", intent="很想买")
    assert bad_intent.status_code == 422 and "请选择购买意向" in page_text(bad_intent)
    later = task_of(db, customer, kind="birthday")
    early = post(client, f"/tasks/{later.id}/done", note="提前祝福")
    assert early.status_code == 422 and "提前完成请写明原因" in page_text(early)
    db.session.refresh(task)
    db.session.refresh(later)
    assert task.status == later.status == "open"
    assert count(db, c.ContactLog) == count(db, c.PurchaseIntent) == 0
    assert customer.do_not_call is False
    done = post(client, f"/tasks/{later.id}/done", note="提前祝福", early_reason="生日那天外出")
    assert done.status_code == 200
    db.session.refresh(later)
    assert (later.status, later.early_reason) == ("done", "生日那天外出")


def test_intent_on_a_call_and_on_the_customer_page_and_the_strong_list(client, login, work, db):
    marketer, head, customer, today = work
    colleague = make_user(["marketer"], display_name="赵敏", department=marketer.department)
    theirs = make_customer(colleague, name="赵的顾客")
    c.record_intent(theirs, "strong", source="customer", actor=colleague)
    login(marketer)
    task = task_of(db, customer)
    post(client, f"/tasks/{task.id}/done", note="已接通，情况良好", intent="strong")
    db.session.refresh(customer)
    assert customer.intent == "strong"
    page = page_text(client.get(f"/customers/{customer.id}"))
    assert "购买意向 强烈" in page
    mine = page_text(client.get("/customers/strong-intent"))
    assert "王大爷" in mine and "赵的顾客" not in mine
    # On the customer's page: one of the four, else a message and nothing written.
    bad = client.post(f"/customers/{customer.id}/intent", data={"intent": "maybe"})
    assert bad.status_code == 422 and "请选择购买意向" in page_text(bad)
    ok = client.post(f"/customers/{customer.id}/intent", data={"intent": "deal"})
    assert ok.status_code == 302
    db.session.refresh(customer)
    assert customer.intent == "deal"
    assert "王大爷" not in page_text(client.get("/customers/strong-intent"))
    # The head sees the department's, and one marketer's on asking.
    switch(client, login, head)
    assert "赵的顾客" in page_text(client.get("/customers/strong-intent"))
    only = page_text(client.get("/customers/strong-intent",
                                query_string={"marketer": marketer.id}))
    assert "赵的顾客" not in only
    switch(client, login, make_user(["marketer"], department=make_department("二部")))
    assert "赵的顾客" not in page_text(client.get("/customers/strong-intent"))
    assert client.post(f"/customers/{theirs.id}/intent",
                       data={"intent": "none"}).status_code == 404


def test_experience_visit_on_the_customer_page(client, login, work, db):
    marketer, head, customer, today = work
    login(marketer)
    empty = client.post(f"/customers/{customer.id}/experiences", data={"product": ""})
    assert empty.status_code == 422 and "请填写体验的产品" in page_text(empty)
    response = client.post(f"/customers/{customer.id}/experiences",
                           data={"product": "远红外理疗仪", "how": "说腰舒服多了",
                                 "day": today.isoformat()})
    assert response.status_code == 302
    page = page_text(client.get(f"/customers/{customer.id}"))
    assert "远红外理疗仪 ：说腰舒服多了" in page  # the customer's experience visits
    assert page.count("远红外理疗仪") == 2  # and the timeline
