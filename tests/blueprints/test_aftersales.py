"""After-sales over HTTP: register a ticket from the customer's page, the warning on the
customer's page and on the order form, the ticket's page (notes, hand-over, start, close with an
outcome, reopen), the list and its filters; bad input refused in Chinese with nothing written;
another department's customer or ticket is a 404."""
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from extensions import db as _db
from formatting import local_day
from models import aftersales as a
from models.base import new_token, utcnow
from tests.conftest import page_text
from tests.factories import make_customer, make_order, make_user
from tests.world import table_counts

WARNING = "该顾客有未解决的售后问题"


def tickets():
    return _db.session.scalar(select(func.count()).select_from(a.Ticket))


def form_token(response, name="token"):
    found = re.search(rf'name="{name}"[^>]*value="([0-9a-f-]{{36}})"',
                      response.get_data(as_text=True))
    assert found, name
    return found.group(1)


def register(client, customer, **fields):
    page = client.get(f"/aftersales/new/{customer.id}")
    assert page.status_code == 200
    data = {"kind": "repair", "description": "按摩椅不转了", "product_id": "0",
            "order_id": "0", "token": form_token(page), **fields}
    return client.post(f"/aftersales/new/{customer.id}", data=data)


def test_register_from_the_customer_page_then_the_warning_where_a_sale_starts(
        db, client, login, shop):
    login(shop.marketer)
    page = client.get(f"/customers/{shop.customer.id}")
    assert "登记售后" in page_text(page) and WARNING not in page_text(page)
    form = client.get(f"/aftersales/new/{shop.customer.id}")
    text = page_text(form)
    assert "问题类型" in text and "投诉" in text and "维修" in text and "上门" in text
    assert f'<option selected value="{shop.marketer.id}">' in form.get_data(as_text=True)
    answer = register(client, shop.customer, assignee_id=str(shop.marketer.id))
    assert answer.status_code == 302
    [ticket] = _db.session.scalars(select(a.Ticket)).all()
    assert answer.location.endswith(f"/aftersales/{ticket.id}")
    assert ticket.due_date == local_day(utcnow()) + timedelta(days=7)
    shown = page_text(client.get(answer.location))
    assert "按摩椅不转了" in shown and ticket.number in shown and "待处理" in shown
    link = f'href="/aftersales/{ticket.id}"'
    customer_page = client.get(f"/customers/{shop.customer.id}")
    assert WARNING in page_text(customer_page) and link in customer_page.get_data(as_text=True)
    order_form = client.get(f"/orders/new/{shop.customer.id}")
    assert WARNING in page_text(order_form) and link in order_form.get_data(as_text=True)
    # Closed, the warning goes.
    ticket_page = client.get(f"/aftersales/{ticket.id}")
    client.post(f"/aftersales/{ticket.id}/close", data={
        "close-outcome": "上门修好了", "close-token": form_token(ticket_page, "close-token")})
    assert WARNING not in page_text(client.get(f"/orders/new/{shop.customer.id}"))
    assert WARNING not in page_text(client.get(f"/customers/{shop.customer.id}"))


def test_the_ticket_page_notes_hand_over_start_close_reopen(db, client, login, shop):
    colleague = make_user(["marketer"], department=shop.department, display_name="同事小王")
    ticket = a.open_ticket(shop.customer, kind="complaint", description="送货晚了",
                           assignee_id=shop.marketer.id, actor=shop.marketer, token=new_token())
    login(shop.marketer)
    url = f"/aftersales/{ticket.id}"

    def post(action, prefix, **fields):
        page = client.get(url)
        data = {f"{prefix}-{k}": v for k, v in fields.items()}
        data[f"{prefix}-token"] = form_token(page, f"{prefix}-token")
        return client.post(f"{url}/{action}", data=data)

    assert post("notes", "note", text="已电话道歉").status_code == 302
    assert post("start", "start", note="安排补送").status_code == 302
    assert ticket.status == "in_progress"
    assert post("assign", "assign", assignee_id=str(colleague.id), note="他去送").status_code \
        == 302
    assert ticket.assignee_id == colleague.id
    # Closing without an outcome: the reason in Chinese, next to the field; nothing written.
    before = table_counts()
    refused = post("close", "close", outcome="  ")
    assert refused.status_code == 422 and "请填写处理结果" in page_text(refused)
    assert table_counts() == before and ticket.status == "in_progress"
    assert post("close", "close", outcome="已补送，顾客满意").status_code == 302
    assert ticket.status == "closed" and ticket.outcome == "已补送，顾客满意"
    assert post("reopen", "reopen", reason="").status_code == 422
    assert post("reopen", "reopen", reason="又晚了").status_code == 302
    assert ticket.status == "open"
    text = page_text(client.get(url))
    for words in ("已电话道歉", "安排补送", "刘芳 → 同事小王：他去送", "已补送，顾客满意", "又晚了",
                  "处理记录"):
        assert words in text, words
    # A double tap on one form: one note.
    page = client.get(url)
    data = {"note-text": "再次致歉", "note-token": form_token(page, "note-token")}
    assert [client.post(f"{url}/notes", data=data).status_code for _ in range(2)] == [302, 302]
    assert [n.text for n in a.notes_of(ticket)].count("再次致歉") == 1


@pytest.mark.parametrize("fields, message", [
    ({"description": ""}, "请描述问题"),
    ({"kind": "refund"}, ""),
    ({"assignee_id": "999999"}, "请从列表中选择负责人"),
    ({"assignee_id": "abc"}, ""),
    ({"product_id": "999999"}, "请从列表中选择产品"),
    ({"order": "someone else's"}, "该订单不是这位顾客的"),
])
def test_bad_input_gets_a_chinese_message_and_writes_nothing(db, client, login, shop, fields,
                                                             message):
    stranger = make_customer(shop.marketer, name="另一位")
    others = make_order(stranger, warehouse=shop.warehouse, actor=shop.marketer,
                        lines=[{"product": shop.product, "quantity": 1}])
    if fields.pop("order", None):
        fields["order_id"] = str(others.id)
    login(shop.marketer)
    _db.session.flush()
    before = table_counts()
    answer = register(client, shop.customer, **{"assignee_id": str(shop.marketer.id),
                                                **fields})
    assert answer.status_code == 422
    text = page_text(answer)
    assert message in text and re.search(r"[\u4e00-\u9fff]", text)
    assert table_counts() == before


def test_another_departments_customer_and_ticket_are_a_404(db, client, login, shop):
    outsider = make_user(["marketer"], department=shop.other_department)
    ticket = a.open_ticket(shop.customer, kind="repair", description="漏电",
                           assignee_id=shop.marketer.id, actor=shop.marketer, token=new_token())
    login(outsider)
    before = table_counts()
    assert client.get(f"/aftersales/new/{shop.customer.id}").status_code == 404
    assert client.post(f"/aftersales/new/{shop.customer.id}", data={
        "kind": "repair", "description": "x", "assignee_id": str(outsider.id),
        "token": new_token()}).status_code == 404
    assert client.get(f"/aftersales/{ticket.id}").status_code == 404
    for action in ("notes", "assign", "start", "close", "reopen"):
        assert client.post(f"/aftersales/{ticket.id}/{action}", data={}).status_code == 404
    assert table_counts() == before
    listed = page_text(client.get("/aftersales/"))
    assert ticket.number not in listed and "王大爷" not in listed


def test_the_list_and_its_filters(db, client, login, shop):
    colleague = make_user(["marketer"], department=shop.department, display_name="同事小王")
    late = a.open_ticket(shop.customer, kind="complaint", description="迟到的投诉",
                         assignee_id=shop.marketer.id, actor=shop.marketer, token=new_token(),
                         now=utcnow() - timedelta(days=10))
    fresh = a.open_ticket(shop.customer, kind="repair", description="新的维修",
                          assignee_id=colleague.id, actor=shop.head, token=new_token())
    done = a.open_ticket(shop.customer, kind="visit", description="上门讲解",
                         assignee_id=shop.marketer.id, actor=shop.marketer, token=new_token())
    a.change_ticket_status(done, "closed", note="讲解完毕", actor=shop.marketer,
                           token=new_token())
    login(shop.head)

    def listed(**args):
        text = page_text(client.get("/aftersales/", query_string=args))
        return {x.number for x in (late, fresh, done) if x.number in text}
    assert listed() == {late.number, fresh.number}          # unresolved by default
    assert listed(status="") == {late.number, fresh.number, done.number}
    assert listed(status="closed") == {done.number}
    assert listed(kind="repair") == {fresh.number}
    assert listed(assignee_id=colleague.id) == {fresh.number}
    assert listed(overdue="y") == {late.number}
    assert "逾期" in page_text(client.get("/aftersales/", query_string={"overdue": "y"}))
    assert client.get("/aftersales/", query_string={"status": "bogus", "kind": "x",
                                                     "assignee_id": "zz"}).status_code == 200


def test_the_reminder_card_opens_the_ticket(db, client, login, shop):
    from jobs import worklists
    ticket = a.open_ticket(shop.customer, kind="complaint", description="态度不好",
                           assignee_id=shop.marketer.id, actor=shop.marketer, token=new_token(),
                           now=utcnow() - timedelta(days=5))
    assert worklists.aftersales_reminders(local_day(utcnow())) == 1
    login(shop.marketer)
    today = client.get("/tasks/")
    assert "售后到期" in page_text(today) and ticket.number in page_text(today)
    assert f'href="/aftersales/{ticket.id}"' in today.get_data(as_text=True)
