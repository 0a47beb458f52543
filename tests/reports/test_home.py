"""The home page's figures (reports/home.py) on hand-built data, each compared with a number
worked out by hand, per role; and each role's page answers with its sections."""
from datetime import time, timedelta

import pytest

from extensions import db as _db
from formatting import local_day
from models import aftersales, events as ev, gifts, orders as o, order_taking, targets as tg, \
    tasks as t
from models.base import new_token, utcnow
from models.clock import at_local
from models.checkin import check_in
from reports import home
from tests.factories import (make_customer, make_department, make_event, make_order,
                             make_product, make_stocked_product, make_user, make_warehouse)


@pytest.fixture
def company(db):
    """一部: 刘芳 (A) and 赵敏 (B); 二部: 王强 (C), its head 钱主管. Worked out by hand:
    A — three guests invited to today's event, two confirmed (one with 2 companions), one
        arrived and bought ¥1,000 with ¥400 paid in cash (¥600 due); a callback two days
        overdue; an open after-sales ticket for the buyer.
    B — a store order of ¥500 paid in full by WeChat, then one box (¥500) brought back: ¥500
        owed back to the customer.
    C — nothing."""
    one, two = make_department("一部"), make_department("二部")
    a = make_user(["marketer"], display_name="刘芳", department=one)
    b = make_user(["marketer"], display_name="赵敏", department=one)
    make_user(["marketer"], display_name="王强", department=two)
    head_two = make_user(["dept_head"], display_name="钱主管", department=two)
    head_one = make_user(["dept_head"], display_name="孙主管", department=one)
    manager = make_user(["manager"], display_name="李总")
    finance = make_user(["finance"], display_name="周静")
    warehouse = make_warehouse("总仓")
    product = make_stocked_product(warehouse, 100, name="灵芝孢子粉", sale_price=50000)
    guests = [make_customer(a, name=f"顾客{n}") for n in range(3)]
    event = make_event(manager, status="open", days=0)
    event.starts_at = utcnow() + timedelta(minutes=30)  # later today
    event.ends_at = event.starts_at + timedelta(hours=3)
    invitations = [ev.invite(event, guest, actor=a, companions=2 if n == 1 else 0)
                   for n, guest in enumerate(guests)]
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
    order_taking.return_goods(store, store.lines[0], quantity=1, reason="不合适",
                              approver=manager, actor=manager, token=new_token())
    today = local_day(utcnow())
    t.write_tasks([t.task_row("callback", (guests[1].id, a.id, one.id),
                              today - timedelta(days=2), "order:9", "回访")])
    ticket = aftersales.open_ticket(guests[0], kind="repair", description="机器不亮",
                                    assignee_id=a.id, actor=a, token=new_token())
    _db.session.flush()
    return dict(a=a, b=b, one=one, two=two, head_one=head_one, head_two=head_two,
                manager=manager, finance=finance, event=event, deal=deal, store=store,
                ticket=ticket, warehouse=warehouse, product=product, today=today)


def card(data, key):
    return next(c for c in data["cards"] if c["key"] == key)


def test_the_managers_figures_against_the_hand_count(company):
    today, a = company["today"], company["a"]
    tg.set_targets("marketer", a, "month", today.replace(day=1), {"collections": 200000},
                   actor=company["manager"])
    data = home.manager(company["manager"], today)
    # A's deal ¥1,000 + B's ¥500 less the ¥500 returned; ¥400 + ¥500 received.
    assert {key: (card(data, key)["today"], card(data, key)["month"])
            for key in ("arrivals", "deals", "sales", "collections")} == {
        "arrivals": (1, 1), "deals": (2, 2), "sales": (100000, 100000),
        "collections": (90000, 90000)}
    collections = card(data, "collections")
    assert (collections["target"], collections["done"]) == (200000, 45.0)
    assert card(data, "sales")["target"] is None
    assert data["arrears"] == 60000 and data["arrears_over_90"] == 0
    assert data["overdue"] == [{"id": a.id, "name": "刘芳", "overdue": 1}]
    assert data["overdue_total"] == 1
    # Two confirmed guests (one arrived), two companions expected: four people.
    event = next(e for e in data["events"] if e["id"] == company["event"].id)
    assert event["confirmed"] == 4
    assert data["marketers"] == 3
    assert "<svg" in collections["chart"]


def test_the_trend_puts_this_weeks_figures_in_the_last_column(company):
    figures = home.activity([company["a"].id], company["today"])
    assert figures["sales"]["weeks"] == [0] * 11 + [100000]
    assert figures["collections"]["weeks"] == [0] * 11 + [40000]


def test_a_head_sees_their_department(company):
    today = company["today"]
    mine = home.manager(company["head_one"], today)
    assert card(mine, "sales")["month"] == 100000 and mine["marketers"] == 2
    assert mine["overdue_total"] == 1
    other = home.manager(company["head_two"], today)
    assert [card(other, k)["month"] for k in ("arrivals", "deals", "sales", "collections")] == \
        [0, 0, 0, 0]
    assert other["arrears"] == 0 and other["overdue"] == [] and other["marketers"] == 1


def test_a_payment_reversed_comes_off_the_collections(company):
    payment = company["deal"].payments[0]
    o.reverse_payment(payment, reason="录错", actor=company["finance"])
    data = home.manager(company["manager"], company["today"])
    assert card(data, "collections")["month"] == 50000


def test_the_marketers_day(company):
    a, today = company["a"], company["today"]
    tg.set_targets("marketer", a, "month", today.replace(day=1), {"collections": 80000},
                   actor=company["manager"])
    data = home.marketer(a, today, utcnow())
    assert data["figures"]["collections"]["actual"] == 40000
    assert data["figures"]["collections"]["done"] == 50.0
    assert (data["overdue"], data["due_today"]) == (1, 0)
    assert [task["customer"] for task in data["tasks"]] == ["顾客1"]
    assert data["event"]["id"] == company["event"].id
    assert data["event"]["people"] == 4 and data["guest_count"] == 2
    assert sorted(g["name"] for g in data["guests"]) == ["顾客0", "顾客1"]
    assert [x["number"] for x in data["tickets"]] == [company["ticket"].number]
    assert data["ticket_customers"] == 1
    # B sees neither A's tasks nor A's ticket.
    theirs = home.marketer(company["b"], today, utcnow())
    assert theirs["tasks"] == [] and theirs["tickets"] == [] and theirs["event"] is None


def test_the_warehouse_lists(company):
    manager, today = company["manager"], company["today"]
    clerk = make_user(["warehouse"])
    low = make_stocked_product(company["warehouse"], 3, name="护膝", low_stock_threshold=5,
                               actor=clerk)
    cup = make_stocked_product(company["warehouse"], 3, name="养生杯", is_gift=True,
                               for_sale=False, actor=clerk)
    make_product("无库存", low_stock_threshold=0, actor=clerk)
    gifts.save_rule(None, event=company["event"], kind="attendance", product=cup, quantity=1,
                    companion_quantity=1, actor=manager)
    data = home.warehouse(today)
    assert [row["product"] for row in data["stock"]["low_rows"]] == ["护膝"]
    assert data["stock"]["low_rows"][0]["free"] == 3 and low.low_stock_threshold == 5
    # Confirmed (not yet arrived): 顾客1 with 2 companions: 1 × 1 + 1 × 2 = 3 cups; 3 in stock.
    row = next(r for r in data["gifts"] if r["event_id"] == company["event"].id)
    assert (row["guests"], row["companions"], row["needed"], row["free"], row["short"]) == \
        (1, 2, 3, 3, 0)
    assert data["pickup_count"] == 0


def test_finance_lists(company):
    finance, today = company["finance"], company["today"]
    late = make_order(make_customer(company["a"], name="老欠款"), warehouse=company["warehouse"],
                      actor=company["a"], lines=[{"product": company["product"],
                                                  "quantity": 1}])
    late.due_date = today - timedelta(days=91)
    o.receive_payment(late, amount=10000, method="cash", actor=finance, token=new_token(),
                      at=utcnow() - timedelta(days=1))
    data = home.finance(today)
    methods = {m["method"]: (m["received"], m["refunded"], m["net"]) for m in data["methods"]}
    assert methods == {"cash": (40000, 0, 40000), "wechat": (50000, 0, 50000)}
    assert data["today_net"] == 90000
    # Yesterday's ¥100 is in no close; nor is today's money, but today is not counted.
    assert [d["day"] for d in data["open_days"]] == [today - timedelta(days=1)]
    assert data["open_days"][0]["cashiers"] == [{"name": "周静", "entries": 1}]
    assert (data["refund_count"], data["refund_total"]) == (1, 50000)
    assert data["refunds"][0]["number"] == company["store"].number
    assert (data["old_count"], data["old_total"]) == (1, 40000)


@pytest.mark.parametrize("role, section", [("manager", "home-manager"),
                                           ("dept_head", "home-manager"),
                                           ("marketer", "home-marketer"),
                                           ("warehouse", "home-warehouse"),
                                           ("finance", "home-finance")])
def test_each_role_gets_its_home(client, login, company, role, section):
    user = company["a"] if role == "marketer" else \
        company["head_one"] if role == "dept_head" else \
        company["manager"] if role == "manager" else \
        company["finance"] if role == "finance" else make_user(["warehouse"])
    login(user)
    response = client.get("/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert f'data-testid="{section}"' in page
    others = {"home-manager", "home-marketer", "home-warehouse", "home-finance"} - {section}
    assert not any(f'data-testid="{other}"' in page for other in others)


def test_the_month_and_the_weeks_count_each_payment_once(company):
    """Money back-dated by finance to the first of the month, to the day before it and to 15
    days ago: the month holds what falls in it, each week what falls in it, nothing twice."""
    today, finance = company["today"], company["finance"]
    order = make_order(make_customer(company["a"], name="分期客"),
                       warehouse=company["warehouse"], actor=company["a"],
                       lines=[{"product": company["product"], "quantity": 1}])
    first = today.replace(day=1)
    fifteen = today - timedelta(days=15)
    if fifteen in (first, first - timedelta(days=1)):  # three different days, whatever today is
        fifteen -= timedelta(days=5)
    days = {first: 1000, first - timedelta(days=1): 2000, fifteen: 4000}
    for day, amount in days.items():  # at noon of each company day (not yet past: now)
        o.receive_payment(order, amount=amount, method="cash", actor=finance,
                          token=new_token(), at=min(at_local(day, time(12)), utcnow()))
    figures = home.activity(None, today)["collections"]
    in_month = sum(amount for day, amount in days.items() if day >= today.replace(day=1))
    assert figures["month"] == 90000 + in_month
    assert figures["today"] == 90000 + (1000 if today.day == 1 else 0)
    assert sum(figures["weeks"]) == 90000 + 7000


# --- The day figures the nightly run keeps (models/daily.py, models/activity.py) ----------------

def kept_days():
    from models.daily import DayFiguresDay
    return {day for day, in _db.session.execute(
        _db.select(DayFiguresDay.day).where(DayFiguresDay.done.is_(True)))}


def back_dated(company, days):
    """Payments of ¥10, ¥20, ¥40 … on an order of A's, at noon of each of `days`."""
    order = make_order(make_customer(company["a"], name="分期客"),
                       warehouse=company["warehouse"], actor=company["a"],
                       lines=[{"product": company["product"], "quantity": 1}])
    for n, day in enumerate(days):
        o.receive_payment(order, amount=1000 * 2 ** n, method="cash",
                          actor=company["finance"], token=new_token(),
                          at=min(at_local(day, time(12)), utcnow()))
    return order


def test_the_kept_figures_are_the_ledgers_figures_and_a_rerun_writes_nothing(company):
    """Summed from the ledgers (no day kept yet), then kept by the nightly run and read from the
    kept rows: the same figures for the company and for each department; a second run writes
    nothing."""
    from jobs.figures import day_figures
    from models.activity import KEPT_DAYS
    today = company["today"]
    days = [today - timedelta(days=n) for n in (3, 10, 40, 80)]
    back_dated(company, days)  # ¥10, ¥20, ¥40, ¥80
    one = [company["a"].id, company["b"].id]
    before = {who: home.activity(who, today) for who in (None, tuple(one))}
    first_monday = today - timedelta(days=today.weekday(), weeks=11)
    assert sum(before[None]["collections"]["weeks"]) == 90000 + sum(
        1000 * 2 ** n for n, day in enumerate(days) if day >= first_monday)
    assert day_figures(today) > 0
    assert len(kept_days()) == KEPT_DAYS
    assert {who: home.activity(who, today) for who in (None, tuple(one))} == before
    assert day_figures(today) == 0


def test_the_page_reads_the_kept_rows_of_a_closed_day(company):
    """A kept day's figures are read, not summed again: changing the kept row changes the page
    (which is why every late change must forget the day — the tests below)."""
    from models.activity import fill_days
    from models.daily import EVERYONE_ROW, DayFigures
    today = company["today"]
    yesterday = today - timedelta(days=1)
    back_dated(company, [yesterday])
    fill_days(today)
    row = _db.session.get(DayFigures, (yesterday, EVERYONE_ROW))
    assert row.received == 1000
    row.received = 7777
    _db.session.flush()
    assert sum(home.activity(None, today)["collections"]["weeks"]) == 90000 + 7777


def test_late_writes_forget_the_days_they_change(company):
    """A payment back-dated to a kept day, its reversal, a deal of a kept day cancelled: each
    forgets that day (summed from the ledgers again) and the page shows the truth at once."""
    from models.activity import fill_days
    today = company["today"]
    three = today - timedelta(days=3)
    order = back_dated(company, [three])
    old_deal = make_order(make_customer(company["b"], name="旧单客"),
                          warehouse=company["warehouse"], actor=company["b"],
                          lines=[{"product": company["product"], "quantity": 1, "held": 1}])
    old_deal.created_at = at_local(today - timedelta(days=5), time(10))
    _db.session.flush()
    fill_days(today)
    assert three in kept_days() and today - timedelta(days=5) in kept_days()
    deals_before = sum(home.activity(None, today)["deals"]["weeks"])

    payment = o.receive_payment(order, amount=500, method="cash", actor=company["finance"],
                                token=new_token(), at=at_local(three, time(15)))
    assert three not in kept_days()
    assert sum(home.activity(None, today)["collections"]["weeks"]) == 90000 + 1000 + 500

    fill_days(today)
    assert three in kept_days()
    o.reverse_payment(payment, reason="录错", actor=company["finance"])  # today: nothing kept
    assert three in kept_days()
    assert sum(home.activity(None, today)["collections"]["weeks"]) == 90000 + 1000

    order_taking.cancel_order(old_deal, reason="客户反悔", actor=company["manager"])
    assert today - timedelta(days=5) not in kept_days()
    assert sum(home.activity(None, today)["deals"]["weeks"]) == deals_before - 1


def test_an_arrival_scanned_after_midnight_forgets_the_day_it_was_scanned_on(company):
    """The door writes a check-in without the ORM: an offline tablet's scan of yesterday,
    sent today, still forgets yesterday's kept figures."""
    from models.activity import fill_days
    today, a = company["today"], company["a"]
    yesterday = today - timedelta(days=1)
    fill_days(today)
    assert yesterday in kept_days()
    event = make_event(company["manager"], status="open", days=0)
    invitation = ev.invite(event, make_customer(a, name="晚到客"), actor=a)
    ev.change_event_status(event, "in_progress", actor=company["manager"])
    check_in(event, invitation, actor=company["manager"], token=new_token(),
             now=at_local(yesterday, time(21)))
    assert yesterday not in kept_days()
    assert home.activity([a.id], today)["arrivals"]["weeks"][-1 if today.weekday() else -2] \
        >= 1


def test_a_day_changed_while_the_night_summed_it_is_not_kept(company):
    """The nightly run notes a day's version before it sums it; a write committed meanwhile
    raises the version, and the sums are not marked done (summed live until the next night)."""
    from models import activity, daily
    today = company["today"]
    day = today - timedelta(days=2)
    version = daily.note_days([day])[day]
    daily.forget_days([day])  # a late payment of that day, committed while the run sums
    assert daily.mark_done(day, version) is False
    assert day not in kept_days()
    assert activity.write_day(day) > 0 and day in kept_days()
