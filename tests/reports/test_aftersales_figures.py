"""The after-sales figures of the performance report (reports/performance.py) against a hand
count: unresolved and overdue now, closed in the period and the average days to close, per
marketer (the person responsible), the department's average, the totals, the company summary;
the rows behind each, the PDF and the .xlsx."""
import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from formatting import local_day
from models import aftersales as a
from models.base import new_token, utcnow
from reports import performance
from reports.params import parse
from tests.conftest import page_text
from tests.factories import make_customer, make_department, make_user


def days_ago(n):
    return utcnow() - timedelta(days=n)


@pytest.fixture
def company(db):
    """一部: 刘芳 (A) and 赵敏 (B), their head; 二部: 王强 (C). Worked out by hand, for the
    last 10 days:
    A — t1 repair registered 20 days ago, still open (due 13 days ago: overdue); t2 complaint
        registered today (due in 3 days); t3 visit registered 10 days ago, closed 4 days ago
        (6 days); t4 repair registered 9 days ago, closed yesterday (8 days); t7 complaint
        registered 6 days ago, closed 5 days ago and reopened 2 days ago (open again, due
        tomorrow: neither closed nor overdue).
        → unresolved 3, overdue 1, closed 2, average (6 + 8) / 2 = 7.0 days.
    B — t5 complaint registered 8 days ago, closed today (8 days); t6 closed 25 days ago
        (before the period).  → unresolved 0, overdue 0, closed 1, average 8.0 days.
    C — nothing. The head's own ticket counts in no marketer's row.
    一部 in all: unresolved 3, overdue 1, closed 3, average (6 + 8 + 8) / 3 = 7.3 days."""
    one, two = make_department("一部"), make_department("二部")
    ma = make_user(["marketer"], display_name="刘芳", department=one)
    mb = make_user(["marketer"], display_name="赵敏", department=one)
    make_user(["marketer"], display_name="王强", department=two)
    head = make_user(["dept_head"], display_name="陈主管", department=one)
    manager = make_user(["manager"], display_name="李总")
    customer_a, customer_b = make_customer(ma, name="甲顾客"), make_customer(mb, name="乙顾客")

    def ticket(customer, who, kind, registered, closed=None, reopened=None):
        made = a.open_ticket(customer, kind=kind, description=f"{kind}问题",
                             assignee_id=who.id, actor=who, token=new_token(),
                             now=days_ago(registered))
        if closed is not None:
            a.change_ticket_status(made, "closed", note="解决了", actor=who, token=new_token(),
                                   now=days_ago(closed))
        if reopened is not None:
            a.change_ticket_status(made, "open", note="又坏了", actor=who, token=new_token(),
                                   now=days_ago(reopened))
        return made
    tickets = {
        "t1": ticket(customer_a, ma, "repair", 20),
        "t2": ticket(customer_a, ma, "complaint", 0),
        "t3": ticket(customer_a, ma, "visit", 10, closed=4),
        "t4": ticket(customer_a, ma, "repair", 9, closed=1),
        "t7": ticket(customer_a, ma, "complaint", 6, closed=5, reopened=2),
        "t5": ticket(customer_b, mb, "complaint", 8, closed=0),
        "t6": ticket(customer_b, mb, "repair", 30, closed=25),
        "head": ticket(customer_b, head, "visit", 3),
    }
    return ma, mb, one, manager, tickets


def args(**extra):
    today = local_day(utcnow())
    return {"start": (today - timedelta(days=10)).isoformat(), "end": today.isoformat(), **extra}


KEYS = ("aftersales_open", "aftersales_overdue", "aftersales_closed", "aftersales_days_to_close")


def test_the_after_sales_figures_against_the_hand_count(db, company):
    ma, mb, one, manager, tickets = company
    assert tickets["t3"].days_to_close == 6 and tickets["t4"].days_to_close == 8
    data = performance.gather(parse(args(department=one.id), manager))
    rows = {row["name"]: row for row in data["rows"]}
    assert {key: rows["刘芳"]["values"][key] for key in KEYS} == {
        "aftersales_open": 3, "aftersales_overdue": 1, "aftersales_closed": 2,
        "aftersales_days_to_close": 7.0}
    assert {key: rows["赵敏"]["values"][key] for key in KEYS} == {
        "aftersales_open": 0, "aftersales_overdue": 0, "aftersales_closed": 1,
        "aftersales_days_to_close": 8.0}
    assert {key: data["total"][key] for key in KEYS} == {
        "aftersales_open": 3, "aftersales_overdue": 1, "aftersales_closed": 3,
        "aftersales_days_to_close": 7.3}
    # The department's average: per marketer 1.5 unresolved, 1.5 closed; its days to close are
    # all their closed tickets' days over their number, as the total's.
    average = rows["刘芳"]["average"]
    assert (average["aftersales_open"], average["aftersales_closed"],
            average["aftersales_days_to_close"]) == (1.5, 1.5, 7.3)
    # The hidden sum is counted but never shown as a column of its own.
    assert "aftersales_close_days" not in [f["key"] for f in data["figures"]]
    company_data = performance.gather_company(parse(args(), manager))
    [dept] = [row for row in company_data["rows"] if row["name"] == "一部"]
    assert (dept["values"]["aftersales_closed"], dept["values"]["aftersales_days_to_close"]) \
        == (3, 7.3)
    # The period before (the 11 days before it): t6 closed 25 days ago, before that too.
    assert data["before"]["aftersales_closed"] == 0
    assert data["before"]["aftersales_days_to_close"] is None


def test_the_rows_behind_each_figure(db, company, client, login):
    ma, mb, one, manager, tickets = company
    login(manager)
    page = client.get("/reports/performance", query_string=args(department=one.id))
    html = page.get_data(as_text=True)
    assert "售后" in page_text(page) and "平均结案天数" in page_text(page)
    assert f"/reports/rows/aftersales_open?marketer={ma.id}" in html

    def numbers(key):
        text = page_text(client.get(f"/reports/rows/{key}",
                                    query_string=args(marketer=ma.id)))
        return {name for name, ticket in tickets.items() if ticket.number in text}
    assert numbers("aftersales_open") == {"t1", "t2", "t7"}
    assert numbers("aftersales_overdue") == {"t1"}
    assert numbers("aftersales_closed") == {"t3", "t4"}
    closed = page_text(client.get("/reports/rows/aftersales_closed",
                                  query_string=args(marketer=ma.id)))
    assert "用时 6 天" in closed and "用时 8 天" in closed
    assert client.get("/reports/rows/aftersales_days_to_close",
                      query_string=args(marketer=ma.id)).status_code == 404


def test_pdf_and_xlsx_carry_the_after_sales_figures(db, company, client, login):
    ma, mb, one, manager, tickets = company
    login(manager)
    pdf = client.get("/reports/performance.pdf", query_string=args(department=one.id))
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)
    assert "售后未结" in text and "平均结案天数" in text and "7.0" in text
    sheet = load_workbook(io.BytesIO(client.get(
        "/reports/performance.xlsx", query_string=args(department=one.id)).data)).active
    rows = list(sheet.iter_rows(values_only=True))
    header = rows[0]
    mine = next(row for row in rows if row[1] == "刘芳")
    assert mine[header.index("售后未结")] == 3 and mine[header.index("售后逾期")] == 1
    assert mine[header.index("售后结案")] == 2 and mine[header.index("平均结案天数")] == 7.0
    assert "结案天数合计" not in header
