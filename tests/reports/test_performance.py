"""Performance reports on hand-built data: every figure compared with numbers worked out by hand,
the department's average and rank, the period before, scope, the rows behind a figure, the PDF
and the .xlsx, bad input."""
import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from extensions import db as _db
from formatting import local_day
from models import customers as c, events as ev, messages as m, orders as o, tasks as t
from models.base import new_token, utcnow
from models.checkin import check_in
from reports import performance
from reports.params import parse
from tests.conftest import page_text
from tests.factories import (make_customer, make_department, make_event, make_order,
                             make_stocked_product, make_user, make_warehouse)


@pytest.fixture
def company(db):
    """一部: 刘芳 (A) and 赵敏 (B); 二部: 王强 (C). Worked out by hand:
    A — 4 customers registered (one released to the pool), 3 invited to one event, 2 confirmed,
        1 arrived and bought ¥1,000 with ¥400 paid (¥600 due, not yet due); one callback done on
        the day reached, one done on the day before outcomes were recorded (no outcome: counted
        as reached), one done on the day unanswered and one refused (neither on time), one left
        open two days past its day; one referred customer.
    B — 1 customer, a store order of ¥500 paid in full.
    C — nothing."""
    one, two = make_department("一部"), make_department("二部")
    a = make_user(["marketer"], display_name="刘芳", department=one)
    b = make_user(["marketer"], display_name="赵敏", department=one)
    make_user(["marketer"], display_name="王强", department=two)
    manager = make_user(["manager"], display_name="李总")
    finance = make_user(["finance"])
    warehouse = make_warehouse("总仓")
    product = make_stocked_product(warehouse, 100, name="灵芝孢子粉", sale_price=50000)
    guests = [make_customer(a, name=f"顾客{n}") for n in range(3)]
    make_customer(a, name="被介绍的", referrer_id=guests[0].id)
    c.release_to_pool([guests[2].id], actor=manager, reason="不再跟进")
    event = make_event(manager, status="open", days=0)
    invitations = [ev.invite(event, guest, actor=a) for guest in guests[:2]]
    invitations.append(ev.invite(event, make_customer(a, name="只邀约"), actor=a))
    for invitation in invitations[:2]:
        ev.change_invitation(invitation, "confirmed", actor=a)
    ev.change_event_status(event, "in_progress", actor=manager)
    check_in(event, invitations[0], actor=manager, token=new_token())
    deal = make_order(guests[0], warehouse=warehouse, actor=a, channel="event", event=event,
                      lines=[{"product": product, "quantity": 2}])
    o.receive_payment(deal, amount=40000, method="cash", actor=finance, token=new_token())
    store = make_order(make_customer(b, name="门店客"), warehouse=warehouse, actor=b,
                       lines=[{"product": product, "quantity": 1}], channel="store")
    o.receive_payment(store, amount=store.total, method="wechat", actor=finance,
                      token=new_token())
    today = local_day(utcnow())
    ident = (guests[0].id, a.id, one.id)
    t.write_tasks([t.task_row("callback", ident, today, "order:1", "第3天"),
                   t.task_row("callback", ident, today - timedelta(days=2), "order:2", "第7天"),
                   *[t.task_row("callback", ident, today, f"order:{n}", "第3天")
                     for n in (3, 4, 5)]])
    first, legacy, unanswered, refused = _db.session.scalars(
        t.visible_tasks(a).where(t.Task.due_date == today).order_by(t.Task.source_key)).all()
    t.complete_task(first, note="已接通", actor=a)
    t.complete_task(legacy, note="已接通", actor=a)
    legacy.outcome = None
    t.complete_task(unanswered, note="", outcome="no_answer", actor=a)
    t.complete_task(refused, note="不要再打", outcome="refused", actor=a)
    return a, b, one, manager, event, deal, store


def args(**extra):
    today = local_day(utcnow())
    return {"start": (today - timedelta(days=10)).isoformat(), "end": today.isoformat(), **extra}


def test_every_figure_of_a_marketer_against_the_hand_count(db, company):
    a, b, one, manager, event, deal, store = company
    data = performance.gather(parse(args(department=one.id), manager))
    rows = {row["name"]: row for row in data["rows"]}
    assert set(rows) == {"刘芳", "赵敏"}
    mine = rows["刘芳"]["values"]
    assert {key: mine[key] for key in (
        "owned", "new", "lost", "invitations", "confirmed", "arrivals", "attendance", "deals",
        "buyers", "conversion", "sales", "collections", "refunds", "arrears",
        "arrears_over_90", "callbacks_on_time", "callbacks_overdue", "referrals")} == {
        "owned": 4, "new": 5, "lost": 1, "invitations": 3, "confirmed": 2, "arrivals": 1,
        "attendance": 50.0, "deals": 1, "buyers": 1, "conversion": 100.0, "sales": 100000,
        "collections": 40000, "refunds": 0, "arrears": 60000, "arrears_over_90": 0,
        "callbacks_on_time": 2, "callbacks_overdue": 1, "referrals": 1}
    theirs = rows["赵敏"]["values"]
    assert (theirs["deals"], theirs["sales"], theirs["collections"], theirs["arrears"]) == \
        (1, 50000, 50000, 0)
    # Rank by sales within 一部, the department's average beside each figure.
    assert (rows["刘芳"]["rank"], rows["赵敏"]["rank"], rows["刘芳"]["of"]) == (1, 2, 2)
    assert rows["刘芳"]["average"]["sales"] == 75000 and rows["赵敏"]["average"]["deals"] == 1
    assert data["total"]["sales"] == 150000 and data["total"]["collections"] == 90000
    assert data["before"]["sales"] == 0 and data["change"]["sales"] is None


def test_a_marketer_sees_only_their_own_report(db, company, client, login):
    a, b, one, manager, event, deal, store = company
    login(b)
    text = page_text(client.get("/reports/performance", query_string=args()))
    assert "赵敏" in text and "刘芳" not in text
    # Asking for someone else's report still shows only their own.
    text = page_text(client.get("/reports/performance", query_string=args(marketer=a.id)))
    assert "刘芳" not in text
    assert client.get("/reports/company").status_code == 403


def test_figures_link_to_the_rows_behind_them(db, company, client, login):
    a, b, one, manager, event, deal, store = company
    login(manager)
    page = client.get("/reports/performance", query_string=args(department=one.id))
    assert f"/reports/rows/sales?marketer={a.id}" in page.get_data(as_text=True)
    rows = client.get("/reports/rows/sales", query_string=args(marketer=a.id))
    text = page_text(rows)
    assert deal.number in text and "¥1,000.00" in text and store.number not in text
    paid = page_text(client.get("/reports/rows/collections", query_string=args(marketer=a.id)))
    assert "¥400.00" in paid
    invited = page_text(client.get("/reports/rows/invitations",
                                   query_string=args(marketer=a.id)))
    assert "只邀约" in invited and "顾客0" in invited
    owned = page_text(client.get("/reports/rows/owned", query_string=args(marketer=a.id)))
    assert "4 条记录" in owned and "顾客0" in owned and "顾客2" not in owned  # 顾客2 was pooled
    due = page_text(client.get("/reports/rows/arrears", query_string=args(marketer=a.id)))
    assert deal.number in due and "¥600.00" in due
    referred = page_text(client.get("/reports/rows/referrals",
                                    query_string=args(marketer=a.id)))
    assert "被介绍的" in referred and "1 条记录" in referred
    assert client.get("/reports/rows/attendance", query_string=args(marketer=a.id)) \
        .status_code == 404  # a rate has no rows of its own
    client.post("/auth/logout")
    outsider_head = make_user(["dept_head"], department=make_department("三部"))
    login(outsider_head)
    assert client.get("/reports/rows/sales", query_string=args(marketer=a.id)).status_code \
        == 404


def test_pdf_and_xlsx_carry_the_same_figures(db, company, client, login):
    a, b, one, manager, event, deal, store = company
    login(manager)
    pdf = client.get("/reports/performance.pdf", query_string=args(department=one.id))
    assert pdf.mimetype == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)
    assert "部门业绩" in text and "刘芳" in text and "¥1,000.00" in text and "会销通示范公司" in text
    sheet = load_workbook(io.BytesIO(client.get(
        "/reports/performance.xlsx", query_string=args(department=one.id)).data)).active
    rows = list(sheet.iter_rows(values_only=True))
    header, first = rows[0], rows[1]
    assert first[1] == "刘芳" and first[header.index("销售额")] == 1000
    company_pdf = client.get("/reports/company.pdf", query_string=args())
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(company_pdf.data)).pages)
    assert "公司汇总" in text and "一部" in text


def test_bad_periods_and_scope_get_clear_answers(db, company, client, login):
    a, b, one, manager, event, deal, store = company
    login(manager)
    backwards = client.get("/reports/performance", query_string={"start": "2026-11-20",
                                                                "end": "2026-11-01"})
    assert backwards.status_code == 422 and "结束日期早于开始日期" in page_text(backwards)
    too_long = client.get("/reports/performance", query_string={"start": "2020-01-01",
                                                               "end": "2026-11-01"})
    assert too_long.status_code == 422 and "最长" in page_text(too_long)
    odd = client.get("/reports/performance", query_string={"start": "2026-02-30"})
    assert odd.status_code == 422 and "不是有效的日期" in page_text(odd)
    client.post("/auth/logout")
    head = make_user(["dept_head"], department=make_department("三部"))
    login(head)
    assert client.get("/reports/performance", query_string=args(department=one.id)) \
        .status_code == 404
    empty = page_text(client.get("/reports/performance", query_string=args()))
    assert "没有业务员" in empty


def test_buyers_and_points_cost_open_the_rows_they_count(db, company, client, login):
    from sqlalchemy import select

    from models import inventory as inv, points as pt, redemptions
    a, b, one, manager, event, deal, store = company
    warehouse = _db.session.get(inv.Warehouse, deal.warehouse_id)
    cup = make_stocked_product(warehouse, 10, name="保温杯", is_gift=True, for_sale=False,
                               redeemable=True, points_price=100, standard_cost=1500)
    buyer = deal.customer
    # 顾客1 arrives too but buys nothing; 顾客0 buys a second time at the same event.
    invitation = _db.session.scalar(select(ev.Invitation).where(
        ev.Invitation.event_id == event.id, ev.Invitation.customer_id != buyer.id,
        ev.Invitation.status == "confirmed"))
    no_buy = invitation.customer
    check_in(event, invitation, actor=manager, token=new_token())
    again = make_order(buyer, warehouse=warehouse, actor=a, channel="event", event=event,
                       lines=[{"product": deal.lines[0].product, "quantity": 1}])
    # Points: two redemptions by A's customer (one reversed), one by B's.
    for person in (buyer, no_buy, store.customer):
        pt.adjust(person, 1000, reason="开户礼", actor=manager, token=new_token())
    kept = redemptions.redeem(buyer, [(cup, 2)], warehouse=warehouse, actor=manager,
                              token=new_token())
    undone = redemptions.redeem(no_buy, [(cup, 1)], warehouse=warehouse, actor=manager,
                                token=new_token())
    redemptions.reverse_redemption(undone, reason="拿错", actor=manager)
    theirs = redemptions.redeem(store.customer, [(cup, 3)], warehouse=warehouse, actor=manager,
                                token=new_token())
    values = {row["name"]: row["values"] for row in performance.gather(
        parse(args(department=one.id), manager))["rows"]}
    assert (values["刘芳"]["buyers"], values["刘芳"]["arrivals"], values["刘芳"]["points_cost"]) \
        == (1, 2, 3000)
    assert values["赵敏"]["points_cost"] == 4500
    _db.session.commit()
    login(manager)
    page = client.get("/reports/performance", query_string=args(department=one.id))
    html = page.get_data(as_text=True)
    assert f"/reports/rows/buyers?marketer={a.id}" in html
    assert f"/reports/rows/points_cost?marketer={a.id}" in html
    bought = page_text(client.get("/reports/rows/buyers", query_string=args(marketer=a.id)))
    assert "1 条记录" in bought and buyer.name in bought and no_buy.name not in bought
    assert deal.number in bought and again.number in bought and store.number not in bought
    cost = page_text(client.get("/reports/rows/points_cost",
                                query_string=args(marketer=a.id)))
    assert "1 条记录" in cost and kept.number in cost and "¥30.00" in cost
    assert undone.number not in cost and theirs.number not in cost
    other = page_text(client.get("/reports/rows/points_cost",
                                 query_string=args(marketer=b.id)))
    assert theirs.number in other and "¥45.00" in other and kept.number not in other
    client.post("/auth/logout")
    login(make_user(["dept_head"], department=make_department("三部")))
    for key in ("buyers", "points_cost"):
        assert client.get(f"/reports/rows/{key}", query_string=args(marketer=a.id)) \
            .status_code == 404


def test_the_sales_chart_draws_each_marketer_against_the_department_average(db, company,
                                                                            client, login):
    a, b, one, manager, event, deal, store = company
    data = performance.gather(parse(args(department=one.id), manager))
    [chart] = data["charts"]
    svg = chart["svg"]
    assert chart["department"] == "一部" and "<script" not in svg
    # 刘芳 ¥1,000 is the longest bar, 赵敏 ¥500 half of it, the average ¥750 a dashed line.
    widths = [float(part.split('"')[0]) for part in svg.split('<rect x="90" y="')[1:]
              for part in [part.split('width="')[1]]]
    assert widths[0] == 2 * widths[1]
    assert "刘芳" in svg and "¥1,000.00" in svg and "一部平均 ¥750.00" in svg
    assert "stroke-dasharray" in svg
    login(manager)
    page = client.get("/reports/performance", query_string=args(department=one.id))
    assert "一部平均 ¥750.00" in page.get_data(as_text=True)
    pdf = client.get("/reports/performance.pdf", query_string=args(department=one.id)).data
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "销售额与部门平均对比" in text and "一部平均 ¥750.00" in text


def test_reversed_payments_count_in_the_period_of_their_reversal_only(db, company):
    a, b, one, manager, event, deal, store = company
    finance = make_user(["finance"])
    [paid] = [p for p in store.payments if p.kind == "full"]
    o.reverse_payment(paid, reason="录错了", actor=finance)
    o.refund(deal, amount=10000, method="cash", reason="退一部分", actor=finance,
             approver=manager, token=new_token(), goodwill=True)
    [back] = [p for p in deal.payments if p.kind == "refund"]
    o.reverse_payment(back, reason="退错了", actor=finance)

    def values(**period):
        return {row["name"]: row["values"] for row in performance.gather(
            parse(period or args(department=one.id), manager))["rows"]}
    now = values()
    assert (now["赵敏"]["collections"], now["赵敏"]["refunds"]) == (0, 0)
    assert (now["刘芳"]["collections"], now["刘芳"]["refunds"]) == (40000, 0)
    today = local_day(utcnow())
    before = values(start=(today - timedelta(days=10)).isoformat(),
                    end=(today - timedelta(days=1)).isoformat(), department=one.id)
    assert (before["赵敏"]["collections"], before["刘芳"]["refunds"]) == (0, 0)
    company_now = performance.gather_company(parse(args(), manager))["total"]
    assert (company_now["collections"], company_now["refunds"]) == (40000, 0)


def test_arrears_over_90_days_start_on_the_91st_day(db, company):
    a, b, one, manager, event, deal, store = company
    customer = store.customer
    product = deal.lines[0].product
    from models import inventory as inv
    warehouse = _db.session.get(inv.Warehouse, deal.warehouse_id)
    today = local_day(utcnow())
    then = utcnow() - timedelta(days=100)
    for due_days_ago in (90, 91):
        make_order(customer, warehouse=warehouse, actor=b, channel="store",
                   lines=[{"product": product, "quantity": 1}], now=then,
                   due_date=today - timedelta(days=due_days_ago))  # ¥500 each, unpaid
    values = {row["name"]: row["values"] for row in performance.gather(
        parse(args(department=one.id), manager))["rows"]}
    assert (values["赵敏"]["arrears"], values["赵敏"]["arrears_over_90"]) == (100000, 50000)


def test_messages_sent_and_their_cost_per_marketer(db, company, client, login):
    """By hand, at 4 fen a part (the default): 刘芳 made an SMS of 80 characters (2 parts, 8 fen)
    and a WeChat (free), both sent in the period → 2 sent, 8 fen; her failed SMS and her SMS sent
    20 days ago (before the period) are not counted. A nightly job's SMS (1 part) for 赵敏's
    customer counts as 赵敏's → 1 sent, 4 fen. 王强: none."""
    a, b, one, manager, event, deal, store = company
    now = utcnow()

    def message(customer, text, *, by=None, channel="sms", subject):
        return m.queue_message(customer, text=text, channel=channel, made_by=by,
                               job="" if by else "care", subject_key=subject, now=now)
    m.mark_sent(message(deal.customer, "字" * 80, by=a, subject="a1"), now=now)
    m.mark_sent(message(deal.customer, "您好", by=a, channel="wechat", subject="a2"), now=now)
    m.mark_failed(message(deal.customer, "字" * 30, by=a, subject="a3"), error="停机")
    m.mark_sent(message(store.customer, "字" * 30, by=a, subject="a4"),
                now=now - timedelta(days=20))
    m.mark_sent(message(store.customer, "生日快乐", subject="b1"), now=now)
    data = performance.gather(parse(args(department=one.id), manager))
    values = {row["name"]: row["values"] for row in data["rows"]}
    assert (values["刘芳"]["messages_sent"], values["刘芳"]["message_cost"]) == (2, 8)
    assert (values["赵敏"]["messages_sent"], values["赵敏"]["message_cost"]) == (1, 4)
    assert (data["total"]["messages_sent"], data["total"]["message_cost"]) == (3, 12)
    login(manager)
    html = client.get("/reports/performance", query_string=args(department=one.id)) \
        .get_data(as_text=True)
    assert "发送消息数" in html and "消息费用" in html
    assert f"/reports/rows/message_cost?marketer={a.id}" in html
    rows = page_text(client.get("/reports/rows/message_cost", query_string=args(marketer=a.id)))
    assert "2 条记录" in rows and "短信" in rows and "微信" in rows and "¥0.08" in rows
