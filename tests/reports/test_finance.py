"""The finance report on hand-built data: arrears by age per marketer, money received by day and
method, refunds, the liabilities; scope; PDF and .xlsx; bad input."""
import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from formatting import local_day
from models import orders as o
from models.base import new_token, utcnow
from reports import finance
from reports.params import parse
from tests.conftest import page_text
from tests.factories import (make_customer, make_department, make_order, make_stocked_product,
                             make_user, make_warehouse)


@pytest.fixture
def books(db):
    """一部 刘芳: ¥1,000 with ¥400 paid in cash (due in 30 days → ¥600 not yet due) and ¥500 due
    40 days ago, nothing paid (31–60 days). 二部 王强: ¥500 paid by WeChat in full."""
    one, two = make_department("一部"), make_department("二部")
    a = make_user(["marketer"], display_name="刘芳", department=one)
    b = make_user(["marketer"], display_name="王强", department=two)
    finance_clerk = make_user(["finance"])
    warehouse = make_warehouse("总仓")
    product = make_stocked_product(warehouse, 100, sale_price=50000)
    today = local_day(utcnow())
    big = make_order(make_customer(a, name="甲"), warehouse=warehouse, actor=a,
                     lines=[{"product": product, "quantity": 2}],
                     due_date=today + timedelta(days=30))
    o.receive_payment(big, amount=40000, method="cash", actor=finance_clerk, token=new_token())
    old = make_order(make_customer(a, name="乙"), warehouse=warehouse, actor=a,
                     lines=[{"product": product, "quantity": 1}])
    old.due_date = today - timedelta(days=40)
    paid = make_order(make_customer(b, name="丙"), warehouse=warehouse, actor=b,
                      lines=[{"product": product, "quantity": 1}])
    o.receive_payment(paid, amount=50000, method="wechat", actor=finance_clerk,
                      token=new_token())
    return one, two, a, b, finance_clerk, today


def test_ageing_and_receipts_against_the_hand_count(db, books):
    one, two, a, b, clerk, today = books
    data = finance.gather(parse({}, clerk))
    rows = {row["marketer"]: row for row in data["ageing"]}
    assert set(rows) == {"刘芳"}
    assert rows["刘芳"]["buckets"] == {"not_due": 60000, "1_30": 0, "31_60": 50000,
                                     "61_90": 0, "over_90": 0}
    assert data["ageing_total"] == 110000
    assert data["receipts"] == [(today.isoformat(), {"cash": 40000, "wechat": 50000})]
    assert data["received"] == 90000 and data["refunds"] == 0
    # A department filter keeps to it.
    data = finance.gather(parse({"department": two.id}, clerk))
    assert data["ageing"] == [] and data["received"] == 50000


def test_a_department_head_sees_their_department(db, books, client, login):
    one, two, a, b, clerk, today = books
    login(make_user(["dept_head"], department=two))
    text = page_text(client.get("/reports/finance"))
    assert "刘芳" not in text and "¥500.00" in text
    assert client.get("/reports/finance", query_string={"department": one.id}).status_code == 404
    client.post("/auth/logout")
    login(a)
    assert client.get("/reports/finance").status_code == 403


def test_pdf_and_xlsx(db, books, client, login):
    one, two, a, b, clerk, today = books
    login(clerk)
    pdf = client.get("/reports/finance.pdf")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)
    assert "财务报表" in text and "刘芳" in text and "¥1,100.00" in text and "微信支付" in text
    sheet = load_workbook(io.BytesIO(client.get("/reports/finance.xlsx").data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[1][0] == today.isoformat() and rows[1][-1] == 900
    bad = client.get("/reports/finance", query_string={"start": "2026-11-20", "end": "2026-11-01"})
    assert bad.status_code == 422 and "结束日期早于开始日期" in page_text(bad)
