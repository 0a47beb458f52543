"""Worklists over HTTP: "Today", done and skipped from the card, scope, the team's figures and
hand-over, the birthday care list and its PDF, the job log; bad input."""
import io
from datetime import date, timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from formatting import local_day
from models import tasks as t
from models.base import utcnow
from models.customers import ContactLog
from tests.conftest import page_text
from tests.factories import make_customer, make_department, make_user


@pytest.fixture
def work(db):
    sales = make_department("一部")
    marketer = make_user(["marketer"], display_name="刘芳", department=sales)
    customer = make_customer(marketer, name="王大爷", phone="13812348888",
                             birthday_kind="lunar", lunar_month=10, lunar_day=5, birth_year=1950)
    today = local_day(utcnow())
    ident = (customer.id, marketer.id, sales.id)
    t.write_tasks([t.task_row("callback", ident, today, "order:1", "第3天：使用指导"),
                   t.task_row("arrears", ident, today - timedelta(days=2), "order:1", "欠款提醒"),
                   t.task_row("birthday", ident, today + timedelta(days=3), "birthday:x", "生日")])
    return marketer, customer, sales, today


def tasks_of(db, customer):
    return db.session.scalars(select(t.Task).where(t.Task.customer_id == customer.id)
                              .order_by(t.Task.due_date)).all()


def test_today_lists_overdue_today_and_coming(client, login, work):
    marketer, customer, sales, today = work
    login(marketer)
    response = client.get("/tasks/")
    text = page_text(response)
    assert response.status_code == 200
    assert text.index("已逾期") < text.index("今天到期") < text.index("即将到期")
    assert "王大爷" in text and "第3天：使用指导" in text and "逾期 2 天" in text
    assert "138****8888" in text  # the full number shows only when the call button is tapped


def test_done_from_the_card_writes_a_contact_log(client, login, work, db):
    marketer, customer, sales, today = work
    login(marketer)
    task = next(x for x in tasks_of(db, customer) if x.kind == "callback")
    response = client.post(f"/tasks/{task.id}/done", data={"note": "已接通，情况良好",
                                                           "kind": "call"},
                           headers={"HX-Request": "true"})
    assert response.status_code == 200 and "已完成" in page_text(response)
    db.session.refresh(task)
    assert task.status == "done"
    log = db.session.get(ContactLog, task.contact_log_id)
    assert log.content.endswith("已接通，情况良好") and log.kind == "call"
    page = page_text(client.get(f"/customers/{customer.id}"))
    assert "已接通，情况良好" in page
    # Nothing written for an empty note or an unknown contact kind.
    other = next(x for x in tasks_of(db, customer) if x.kind == "arrears")
    empty = client.post(f"/tasks/{other.id}/done", data={"note": " "},
                        headers={"HX-Request": "true"})
    assert empty.status_code == 422 and "写下" in page_text(empty)
    odd = client.post(f"/tasks/{other.id}/done", data={"note": "好", "kind": "telepathy"},
                      headers={"HX-Request": "true"})
    assert odd.status_code == 422
    db.session.refresh(other)
    assert other.status == "open"


def test_skip_needs_a_reason(client, login, work, db):
    marketer, customer, sales, today = work
    login(marketer)
    task = tasks_of(db, customer)[0]
    assert client.post(f"/tasks/{task.id}/skip", data={"reason": ""},
                       headers={"HX-Request": "true"}).status_code == 422
    response = client.post(f"/tasks/{task.id}/skip", data={"reason": "住院了"})
    assert response.status_code == 302
    db.session.refresh(task)
    assert task.status == "skipped" and task.skip_reason == "住院了"


def test_another_marketer_never_reaches_the_task(client, login, work, db):
    marketer, customer, sales, today = work
    task = tasks_of(db, customer)[0]
    login(make_user(["marketer"]))
    assert client.post(f"/tasks/{task.id}/done", data={"note": "冒名"}).status_code == 404
    assert client.get("/tasks/", query_string={"assignee": marketer.id}).status_code == 404
    assert client.post(f"/tasks/{2**40}/done", data={"note": "x"}).status_code == 404
    assert "王大爷" not in page_text(client.get("/tasks/"))


def test_the_department_head_sees_figures_and_hands_tasks_over(client, login, work, db):
    marketer, customer, sales, today = work
    colleague = make_user(["marketer"], display_name="赵敏", department=sales)
    outsider = make_user(["marketer"], display_name="外人")
    login(make_user(["dept_head"], department=sales))
    team = page_text(client.get("/tasks/team"))
    assert "刘芳" in team and "外人" not in team
    listing = page_text(client.get("/tasks/", query_string={"assignee": marketer.id}))
    assert "王大爷" in listing and "交给" in listing
    ids = [x.id for x in tasks_of(db, customer)]
    refused = client.post("/tasks/reassign", data={"to_user": outsider.id, "task_ids": ids})
    assert refused.status_code == 302
    assert all(x.assignee_id == marketer.id for x in tasks_of(db, customer))
    moved = client.post("/tasks/reassign", data={"to_user": colleague.id, "task_ids": ids},
                        follow_redirects=True)
    assert "3 条任务已交给赵敏" in page_text(moved)
    db.session.expire_all()
    assert all(x.assignee_id == colleague.id for x in tasks_of(db, customer))


def test_birthday_care_list_and_pdf(client, login, work, db):
    marketer, customer, sales, today = work
    login(marketer)
    page = client.get("/tasks/birthdays", query_string={"start": "2026-11-10",
                                                       "end": "2026-11-16"})
    text = page_text(page)
    assert "王大爷" in text and "11月13日" in text and "农历十月初五" in text and "76" in text
    pdf = client.get("/tasks/birthdays.pdf", query_string={"start": "2026-11-10",
                                                          "end": "2026-11-16"})
    assert pdf.mimetype == "application/pdf"
    content = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)
    assert "生日关怀名单" in content and "王大爷" in content and "刘芳" in content
    assert "长寿面礼盒" in content  # the suggested gift at 76, in the reader's language
    bad = client.get("/tasks/birthdays", query_string={"start": "2026-13-01", "end": "x"})
    assert bad.status_code == 422 and "不是有效的日期" in page_text(bad)
    backwards = client.get("/tasks/birthdays", query_string={"start": "2026-11-16",
                                                            "end": "2026-11-10"})
    assert backwards.status_code == 422 and "结束日期早于开始日期" in page_text(backwards)
    assert date(2026, 11, 13)


def test_marketers_do_not_see_the_job_log(client, login, work, db):
    login(work[0])
    assert client.get("/tasks/jobs").status_code == 403


def test_admins_see_the_job_log_entries(client, login, work, db):
    db.session.add(t.JobRun(job="callbacks", run_date=work[3], trigger="schedule",
                            started_at=utcnow(), finished_at=utcnow(), rows=12, status="ok"))
    db.session.add(t.JobRun(job="care", run_date=work[3], trigger="cli", started_at=utcnow(),
                            finished_at=utcnow(), rows=0, status="failed",
                            error="RuntimeError: boom"))
    db.session.flush()
    login(make_user(["admin"]))
    text = page_text(client.get("/tasks/jobs"))
    assert "购买后回访" in text and "12" in text and "失败" in text and "boom" in text
