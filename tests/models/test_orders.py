"""Orders and money: packages, lines taken or held, payments, refunds, reversals, returns,
cancelling, arrears, the daily close, the ledger check."""
from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from formatting import company_zone, local_day
from models import inventory as inv, order_taking, orders as o
from models.base import Conflict, InvalidInput, PermissionDenied, new_token, utcnow
from models.ledgers import check_ledgers
from models.timeline import timeline_of
from tests.factories import company_today, make_event, make_order, make_stocked_product, make_user


def order_of(shop, quantity=2, held=0, **kwargs):
    warehouse, marketer, customer, product = (
        shop.warehouse, shop.marketer, shop.customer, shop.product)
    return make_order(customer, warehouse=warehouse, actor=marketer,
                      lines=[{"product": product, "quantity": quantity, "held": held}], **kwargs)


def pay(order, amount, actor, method="wechat", **kwargs):
    return o.receive_payment(order, amount=amount, method=method, actor=actor, token=new_token(),
                             **kwargs)


def stock(shop):
    warehouse, product = shop.warehouse, shop.product
    return inv.quantity_in(inv.location_of(warehouse), product)


# --- Orders ----------------------------------------------------------------------------------

def test_a_package_becomes_lines_that_add_up_to_its_price(db, shop):
    warehouse, marketer, manager, customer, product = (
        shop.warehouse, shop.marketer, shop.manager, shop.customer, shop.product)
    oil = make_stocked_product(warehouse, 50, name="鱼油", sale_price=16800)
    big = o.save_package(None, name="大单", price=88800, actor=manager,
                         items=[(product, 3), (oil, 2)])
    assert big.list_price == 3 * 19800 + 2 * 16800
    order = make_order(customer, warehouse=warehouse, actor=marketer,
                       lines=o.package_lines(big, count=1))
    assert order.total == 88800 == sum(line.amount for line in order.lines)
    assert all(line.package_id == big.id for line in order.lines)
    with pytest.raises(InvalidInput, match="高于"):
        o.save_package(None, name="贵单", price=10**7, actor=manager, items=[(product, 1)])
    with pytest.raises(PermissionDenied):
        o.save_package(None, name="小单", price=100, actor=marketer, items=[(product, 1)])


def test_goods_taken_leave_the_warehouse_and_goods_held_go_on_the_custody_shelf(db, shop):
    warehouse = shop.warehouse
    order = order_of(shop, quantity=5, held=3)
    [line] = order.lines
    assert (line.taken, line.held) == (2, 3)
    assert stock(shop) == 45
    assert inv.quantity_in(inv.location_of(warehouse, "custody"), shop.product) == 3
    moves = db.session.scalars(select(inv.StockMove).where(
        inv.StockMove.document_type == "orders", inv.StockMove.document_id == order.id)).all()
    assert sorted((m.reason, m.quantity, m.customer_id) for m in moves) == [
        ("custody_deposit", 3, order.customer_id), ("sale_issue", 2, order.customer_id)]
    assert order.number.startswith("XS") and order.balance_due == order.total == 5 * 19800


def test_the_marketer_credited_is_the_customers_owner_by_default(db, shop):
    marketer, manager, customer, product = shop.marketer, shop.manager, shop.customer, shop.product
    order = make_order(customer, warehouse=shop.warehouse, actor=manager,
                       lines=[{"product": product, "quantity": 1}])
    assert order.marketer_id == marketer.id and order.department_id == marketer.department_id


def test_an_order_at_an_event_links_the_check_in(db, shop):
    from models import checkin as ci, events as ev
    warehouse, marketer, manager, customer, product = (
        shop.warehouse, shop.marketer, shop.manager, shop.customer, shop.product)
    event = make_event(manager)
    invitation = ev.invite(event, customer, actor=marketer)
    record = ci.check_in(event, invitation, actor=manager, token=new_token())
    order = make_order(customer, warehouse=warehouse, actor=marketer, channel="event",
                       event=event, lines=[{"product": product, "quantity": 1}])
    assert (order.event_id, order.check_in_id) == (event.id, record.id)
    with pytest.raises(InvalidInput, match="会议"):
        make_order(customer, warehouse=warehouse, actor=marketer, channel="event",
                   lines=[{"product": product, "quantity": 1}])


def test_a_deal_is_credited_only_to_an_event_and_a_marketer_it_may_be(db, shop):
    from models import checkin as ci, events as ev
    marketer, manager, customer, product = shop.marketer, shop.manager, shop.customer, shop.product
    invited, other = make_event(manager), make_event(manager)
    ev.invite(invited, customer, actor=marketer)
    line = [{"product": product, "quantity": 1}]
    assert order_taking.events_for_order(customer, marketer) == [invited]
    assert set(order_taking.events_for_order(customer, manager)) == {invited, other}
    with pytest.raises(InvalidInput, match="没有受邀"):
        make_order(customer, warehouse=shop.warehouse, actor=marketer, channel="event",
                   event=other, lines=line)
    # another department's marketer is not the dept head's to credit
    stranger = make_user(["marketer"], department=shop.other_department)
    assert stranger not in order_taking.marketers_for_order(customer, shop.head)
    with pytest.raises(InvalidInput, match=stranger.display_name):
        make_order(customer, warehouse=shop.warehouse, actor=shop.head, marketer=stranger,
                   lines=line)
    assert stranger in order_taking.marketers_for_order(customer, manager)
    # the deal at the table is made at the event the customer came to today
    assert order_taking.event_attended_today(customer, [other, invited]) is None
    ci.check_in(invited, ev.invitation_for(invited, customer), actor=manager, token=new_token())
    assert order_taking.event_attended_today(customer, [other, invited]) == invited


def test_a_deposit_is_taken_with_the_deal_unless_the_order_waits_for_a_confirmation(db, shop):
    order, deferred = order_taking.take_order(
        shop.customer, lines=[{"product": shop.product, "quantity": 2}], actor=shop.marketer,
        token=new_token(), warehouse=shop.warehouse, channel="store", deposit=5000,
        deposit_method="cash", payment_token=new_token())
    assert not deferred and (order.paid, order.balance_due) == (5000, 2 * 19800 - 5000)


@pytest.mark.parametrize("line, message", [
    ({"quantity": 1, "discount": 19801}, "优惠"),
    ({"quantity": 0}, "大于零的整数"),
    ({"quantity": 1, "unit_price": -1}, "单价"),
    ({"quantity": 999}, "仅有 50 盒"),
])
def test_bad_lines_are_refused_and_nothing_is_written(db, shop, line, message):
    marketer, customer, product = shop.marketer, shop.customer, shop.product
    with pytest.raises((InvalidInput, Conflict), match=message):
        make_order(customer, warehouse=shop.warehouse, actor=marketer,
                   lines=[{"product": product, **line}])
    db.session.rollback()


def test_an_order_is_written_once_per_token(db, shop):
    warehouse, marketer, customer, product = (
        shop.warehouse, shop.marketer, shop.customer, shop.product)
    token = new_token()
    first = order_taking.create_order(customer, lines=[{"product": product, "quantity": 1}],
                                      actor=marketer, token=token, warehouse=warehouse,
                                      channel="store")
    again = order_taking.create_order(customer, lines=[{"product": product, "quantity": 1}],
                                      actor=marketer, token=token, warehouse=warehouse,
                                      channel="store")
    assert again is first and stock(shop) == 49


def test_cancel_only_while_nothing_is_paid_or_handed_over(db, shop):
    marketer, finance = shop.marketer, shop.finance
    held = order_of(shop, quantity=2, held=2)
    with pytest.raises(InvalidInput):
        order_taking.cancel_order(held, reason=" ", actor=marketer)
    order_taking.cancel_order(held, reason="客户改主意", actor=marketer)
    assert held.status == "cancelled" and held.balance_due == 0
    with pytest.raises(Conflict, match="已取消"):
        pay(held, 100, finance)
    taken = order_of(shop, quantity=1)
    with pytest.raises(Conflict, match="退货"):
        order_taking.cancel_order(taken, reason="x", actor=marketer)
    paid = order_of(shop, quantity=1, held=1)
    pay(paid, 100, finance)
    with pytest.raises(Conflict, match="退款"):
        order_taking.cancel_order(paid, reason="x", actor=marketer)


# --- Payments --------------------------------------------------------------------------------

def test_deposit_then_balance(db, shop):
    marketer, finance = shop.marketer, shop.finance
    order = order_of(shop, quantity=2)  # ¥396
    deposit = pay(order, 10000, marketer, reference="4200001234")
    assert deposit.kind == "deposit" and order.payment_state == "part_paid"
    assert (order.paid, order.balance_due) == (10000, 29600)
    balance = pay(order, 29600, finance, method="cash")
    assert balance.kind == "balance" and order.payment_state == "paid" and order.balance_due == 0
    with pytest.raises(Conflict, match="已付清"):
        pay(order, 1, finance)


@pytest.mark.parametrize("amount", [0, -100, None, 1.5])
def test_zero_negative_or_odd_amounts_are_refused(db, shop, amount):
    order = order_of(shop)
    with pytest.raises(InvalidInput, match="大于零"):
        pay(order, amount, shop.finance)
    assert order.paid == 0


def test_more_than_due_is_refused(db, shop):
    order = order_of(shop, quantity=1)
    with pytest.raises(Conflict, match="只欠 ¥198.00"):
        pay(order, 19801, shop.finance)


def test_a_payment_is_written_once_per_token_and_a_token_fits_one_order(db, shop):
    finance = shop.finance
    order, other = order_of(shop), order_of(shop)
    token = new_token()
    first = o.receive_payment(order, amount=500, method="cash", actor=finance, token=token)
    assert o.receive_payment(order, amount=500, method="cash", actor=finance,
                             token=token) is first
    assert order.paid == 500
    with pytest.raises(Conflict, match="另一个订单"):
        o.receive_payment(other, amount=500, method="cash", actor=finance, token=token)


def test_refunds_need_an_approver_and_never_exceed_paid(db, shop):
    marketer, finance, manager = shop.marketer, shop.finance, shop.manager
    order = order_of(shop, quantity=1)
    pay(order, 10000, marketer)
    with pytest.raises(PermissionDenied):
        o.refund(order, amount=100, method="cash", reason="x", actor=marketer,
                 approver=marketer, token=new_token())
    with pytest.raises(Conflict, match="只付了 ¥100.00"):
        o.refund(order, amount=10001, method="cash", reason="退差价", actor=finance,
                 approver=manager, token=new_token(), goodwill=True)
    refund = o.refund(order, amount=4000, method="cash", reason="退差价", actor=finance,
                      approver=manager, token=new_token(), goodwill=True)
    assert refund.amount == -4000 and order.paid == 6000 and refund.approved_by_id == manager.id


def test_a_refund_is_capped_at_what_was_overpaid_unless_a_manager_approves_goodwill(db, shop):
    """Paid ¥300 of ¥594 (3 × ¥198), then one box back: the goods kept are worth ¥396, so
    nothing was overpaid; two boxes back: ¥198 kept, ¥102 overpaid — at most that comes back
    without a goodwill approval, and a finance clerk cannot approve one."""
    finance, manager = shop.finance, shop.manager
    order = order_of(shop, quantity=3)
    pay(order, 30000, finance)
    line = order.lines[0]

    def give_back(n):
        order_taking.return_goods(order, line, quantity=n, reason="不要了", approver=manager,
                                  actor=manager, token=new_token())

    def refund(amount, **kw):
        return o.refund(order, amount=amount, method="cash", reason="退货退款", actor=finance,
                        approver=kw.pop("approver", finance), token=new_token(), **kw)
    give_back(1)
    with pytest.raises(Conflict, match="最多可退 ¥0.00"):
        refund(1)
    give_back(1)
    assert (order.net_total, order.overpaid) == (19800, 10200)
    with pytest.raises(Conflict, match="最多可退 ¥102.00"):
        refund(10201)
    with pytest.raises(PermissionDenied, match="经理"):
        refund(10201, goodwill=True)
    assert order.paid == 30000 and order.balance_due == -10200
    refund(10200)  # exactly the overpayment: no debt
    assert (order.paid, order.balance_due, order.overpaid) == (19800, 0, 0)
    refund(800, approver=manager, goodwill=True)  # goodwill: the debt is on purpose, audited
    assert order.balance_due == 800
    from models.audit import AuditEntry
    assert db.session.scalar(select(func.count(AuditEntry.id)).where(
        AuditEntry.action == "payment.goodwill_refund")) == 1


def test_only_finance_reverses_and_a_reversal_is_final(db, shop):
    marketer, finance, manager = shop.marketer, shop.finance, shop.manager
    order = order_of(shop, quantity=1)
    wrong = pay(order, 5000, marketer)
    with pytest.raises(PermissionDenied):
        o.reverse_payment(wrong, reason="录错", actor=manager)
    reversal = o.reverse_payment(wrong, reason="录错了金额", actor=finance)
    assert reversal.amount == -5000 and order.paid == 0 and order.balance_due == order.total
    with pytest.raises(Conflict, match="已经冲销"):
        o.reverse_payment(wrong, reason="再来", actor=finance)
    with pytest.raises(Conflict):
        o.reverse_payment(reversal, reason="再来", actor=finance)


def test_payments_and_refunds_appear_on_the_customers_timeline(db, shop):
    marketer, finance, manager, customer = shop.marketer, shop.finance, shop.manager, shop.customer
    order = order_of(shop, quantity=1)
    pay(order, 5000, marketer)
    o.refund(order, amount=1000, method="cash", reason="退差价", actor=finance, approver=manager,
             token=new_token(), goodwill=True)
    kinds = [item.kind for item in timeline_of(customer)]
    assert {"order.create", "payment.deposit", "payment.refund"} <= set(kinds)
    assert o.customer_due(customer) == 19800 - 4000
    order_taking.return_goods(order, order.lines[0], quantity=1, reason="不合适",
                              approver=manager, actor=finance, token=new_token())
    items = {item.kind: item for item in timeline_of(customer)}
    product, number = shop.product.name, order.number
    assert (items["order.create"].title, items["order.create"].detail,
            items["order.create"].actor) == \
        (f"订单 {number}：¥198.00", f"{product}×1", marketer.display_name)
    assert (items["payment.refund"].title, items["payment.refund"].actor) == \
        (f"{number} 退款 ¥10.00", finance.display_name)
    assert "退差价" in items["payment.refund"].detail
    assert (items["order.return"].title, items["order.return"].detail,
            items["order.return"].actor) == \
        (f"{number} 退货 {product} × 1", "不合适", manager.display_name)  # who approved


# --- Returns ---------------------------------------------------------------------------------

def test_a_return_takes_custody_units_first_then_goods_back_into_stock(db, shop):
    marketer, finance, manager = shop.marketer, shop.finance, shop.manager
    order = order_of(shop, quantity=4, held=1)  # 3 taken, 1 held
    assert stock(shop) == 46
    first = order_taking.return_goods(order, order.lines[0], quantity=2, reason="不想要了",
                                      approver=manager, actor=finance, token=new_token())
    assert (first.from_held, stock(shop)) == (1, 48)  # both back on the free shelf
    assert first.value == 2 * 19800 and order.returned_value == 2 * 19800
    assert order.balance_due == 2 * 19800
    with pytest.raises(Conflict, match="还能退 2"):
        order_taking.return_goods(order, order.lines[0], quantity=3, reason="x", approver=manager,
                                  actor=finance, token=new_token())
    order_taking.return_goods(order, order.lines[0], quantity=1, reason="包装破损", approver=manager,
                              actor=finance, token=new_token(), disposition="scrap")
    assert stock(shop) == 48  # scrapped, not restocked
    assert check_ledgers()["payments"] == [] and check_ledgers()["stock"] == []


def test_return_then_refund_what_was_paid(db, shop):
    marketer, finance, manager = shop.marketer, shop.finance, shop.manager
    order = order_of(shop, quantity=2)
    pay(order, order.total, finance)
    order_taking.return_goods(order, order.lines[0], quantity=1, reason="不合适", approver=manager,
                              actor=finance, token=new_token())
    assert order.balance_due == -19800  # owed back to the customer
    o.refund(order, amount=19800, method="wechat", reason="退货退款", actor=finance,
             approver=finance, token=new_token())
    assert order.balance_due == 0 and order.paid == 19800


# --- Arrears and the daily close ---------------------------------------------------------------

def test_arrears_are_aged_from_the_due_date(db, shop):
    marketer, finance, manager = shop.marketer, shop.finance, shop.manager
    today = local_day(utcnow())
    ages = {}
    for days in (-5, 10, 45, 75, 120):
        order = order_of(shop, quantity=1)
        order.due_date = today - timedelta(days=days)
        ages[order.id] = days
    paid_up = order_of(shop, quantity=1)
    pay(paid_up, paid_up.total, finance)
    rows, totals = o.arrears(manager, today)
    assert [(order.id, bucket) for order, _d, bucket in rows] == [
        (oid, b) for oid, b in zip(sorted(ages, key=lambda k: -ages[k]),
                                   ["over_90", "61_90", "31_60", "1_30", "not_due"])]
    assert totals == {key: 19800 for key in ("not_due", "1_30", "31_60", "61_90", "over_90")}
    other = make_user(["marketer"])
    assert o.arrears(other, today)[0] == []  # not theirs


def test_the_daily_close_by_method_and_a_back_dated_entry_lands_in_the_open_session(db, shop):
    marketer, finance, manager = shop.marketer, shop.finance, shop.manager
    order = order_of(shop, quantity=3)
    now = utcnow()
    yesterday = now - timedelta(days=1)
    pay(order, 10000, finance, method="cash", at=yesterday, now=now)
    pay(order, 20000, finance, method="wechat", at=yesterday, now=now)
    o.refund(order, amount=3000, method="cash", reason="退差价", actor=finance,
             approver=manager, token=new_token(), at=yesterday, now=now, goodwill=True)
    day = local_day(yesterday)
    expected, entries = o.day_summary(finance, day)
    assert expected == {"cash": {"received": 10000, "refunded": 3000, "net": 7000},
                        "wechat": {"received": 20000, "refunded": 0, "net": 20000}}
    close = o.close_day(finance, day, declared={"cash": 6900, "wechat": 20000}, actor=finance,
                        now=now)
    assert (close.session, close.expected_total, close.declared_total, close.difference) == \
        (1, 27000, 26900, -100)
    assert close.entries == entries
    # Finance enters one more of yesterday's receipts: not refused, it opens session #2.
    later = pay(order, 100, finance, at=yesterday, now=now + timedelta(minutes=1))
    assert o.open_entries(finance, day) == [later]
    with pytest.raises(PermissionDenied):
        o.close_day(finance, day - timedelta(days=1), declared={}, actor=marketer)
    second = o.close_day(finance, day, declared={"wechat": 100}, actor=finance,
                         now=now + timedelta(minutes=2))
    assert (second.session, second.entries, second.expected_total) == (2, [later], 100)
    midnight = datetime.combine(day, datetime.min.time(), tzinfo=company_zone())
    assert local_day(midnight) == day


def _at(day, hour, minute=0):
    return datetime.combine(day, time(hour, minute), tzinfo=company_zone())


def test_a_payment_after_the_close_opens_session_2_which_covers_only_it(db, shop):
    """刘芳's day closed at 10:25: her 11:00 deposit is taken (not refused), waits in session
    #2, and the #2 close covers it alone; with nothing new, a third close is refused."""
    marketer, finance = shop.marketer, shop.finance
    day = local_day(utcnow()) - timedelta(days=1)
    order = order_of(shop, quantity=3)
    morning = [pay(order, 10000, marketer, method="cash", now=_at(day, 9)),
               pay(order, 5000, marketer, method="wechat", now=_at(day, 10))]
    first = o.close_day(marketer, day, declared={"cash": 10000, "wechat": 5000},
                        actor=finance, now=_at(day, 10, 25))
    assert (first.session, first.entries, first.expected_total, first.difference) == \
        (1, morning, 15000, 0)
    deposit = pay(order, 2000, marketer, method="cash", now=_at(day, 11))
    assert deposit.id and order.paid == 17000
    [cashier_day] = o.cashiers_of_day(day)
    assert (cashier_day.sessions, cashier_day.open_entries, cashier_day.next_session) == \
        ([first], [deposit], 2)
    assert cashier_day.open_summary == {"cash": {"received": 2000, "refunded": 0, "net": 2000}}
    second = o.close_day(marketer, day, declared={"cash": 1900}, actor=finance,
                         now=_at(day, 12))
    assert (second.session, second.entries, second.expected_total, second.difference) == \
        (2, [deposit], 2000, -100)
    assert first.entries == morning  # the first close is as it was
    with pytest.raises(Conflict, match="没有新的款项可日结"):
        o.close_day(marketer, day, declared={}, actor=finance, now=_at(day, 13))
    assert db.session.scalar(select(func.count()).select_from(o.CashClose)) == 2
    assert check_ledgers()["payments"] == []
    second.expected_total += 1  # a close that no longer matches the entries it covered
    db.session.flush()
    assert check_ledgers()["payments"] == [
        f"cash close {second.id}: expected 2001, its entries sum to 2000"]


def test_a_manager_reopens_a_close_with_a_reason_and_the_next_close_covers_both(db, shop):
    from models.audit import AuditEntry
    marketer, finance, manager = shop.marketer, shop.finance, shop.manager
    day = local_day(utcnow()) - timedelta(days=1)
    order = order_of(shop, quantity=3)
    early = pay(order, 10000, marketer, method="cash", now=_at(day, 9))
    first = o.close_day(marketer, day, declared={"cash": 9000}, actor=finance,
                        now=_at(day, 10, 25))
    late = pay(order, 3000, marketer, method="cash", now=_at(day, 11))
    audits = select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "cash.reopen")
    with pytest.raises(PermissionDenied, match="只有经理"):
        o.reopen_close(first, reason="点错了", actor=finance, now=_at(day, 12))
    with pytest.raises(InvalidInput, match="请说明"):
        o.reopen_close(first, reason="  ", actor=manager, now=_at(day, 12))
    assert (first.reopened_at, first.reopened_by_id, first.reopen_reason) == (None, None, "")
    assert db.session.scalar(audits) == 0
    assert o.open_entries(marketer, day) == [late]
    o.reopen_close(first, reason="现金少数了一千", actor=manager, now=_at(day, 12))
    assert (first.is_reopened, first.reopened_by, first.reopen_reason) == \
        (True, manager, "现金少数了一千")
    assert db.session.scalar(audits) == 1
    with pytest.raises(Conflict):
        o.reopen_close(first, reason="再开一次", actor=manager, now=_at(day, 12, 5))
    assert o.open_entries(marketer, day) == [early, late]
    second = o.close_day(marketer, day, declared={"cash": 13000}, actor=finance,
                         now=_at(day, 12, 30))
    assert (second.session, second.entries, second.expected_total, second.difference) == \
        (2, [early, late], 13000, 0)
    # The reopened close stays on record with what it covered.
    assert o.sessions_of_day(marketer, day) == [first, second]
    assert first.entries == [early] and first.expected_total == 10000
    assert check_ledgers()["payments"] == []
    with pytest.raises(Conflict, match="没有新的款项可日结"):
        o.close_day(marketer, day, declared={}, actor=finance, now=_at(day, 13))


def test_check_ledgers_proves_the_payments_and_finds_tampering(db, shop):
    marketer, finance = shop.marketer, shop.finance
    order = order_of(shop, quantity=2)
    pay(order, 5000, marketer)
    assert check_ledgers()["payments"] == []
    order.paid = 6000
    db.session.flush()
    problems = check_ledgers()["payments"]
    assert any("paid 6000, payments sum to 5000" in p for p in problems)


def test_a_future_or_ancient_payment_date_is_refused(db, shop):
    order = order_of(shop)
    with pytest.raises(InvalidInput, match="未来"):
        pay(order, 100, shop.finance, at=utcnow() + timedelta(days=1))
    with pytest.raises(InvalidInput):
        pay(order, 100, shop.finance, at=utcnow() - timedelta(days=400))
    assert company_today()
    assert db.session.scalar(select(func.count(o.Payment.id))) == 0


def test_only_finance_or_a_manager_enters_money_received_on_another_day(db, shop):
    order = order_of(shop)
    now = utcnow()
    with pytest.raises(PermissionDenied, match="财务或经理"):
        pay(order, 100, shop.marketer, at=now - timedelta(days=2), now=now)
    assert db.session.scalar(select(func.count(o.Payment.id))) == 0
    pay(order, 100, shop.marketer, at=now - timedelta(minutes=1), now=now)  # today: fine
    pay(order, 100, shop.finance, at=now - timedelta(days=2), now=now)
