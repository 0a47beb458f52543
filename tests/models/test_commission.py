"""Commission (#27 §2), each rule against a hand computation: the rate weighted by the order's
lines, the tiers by the money collected target, clawback across months, the developer's share
after a transfer, the locked month (no recompute, no second approval, the late payment in the
next month's run, never twice), the stale draft, and the bad input refused with nothing
written."""
from datetime import time, timedelta

import pytest
from sqlalchemy import func, select

from extensions import db as _db
from formatting import local_day
from models import commission as cm, customers as c, orders as o, order_taking as ot, \
    targets as tg
from models.base import Conflict, InvalidInput, NotFound, PermissionDenied, new_token, utcnow
from models.clock import at_local
from models.settings import update_settings
from tests.factories import (make_customer, make_department, make_order, make_product,
                             make_user, make_warehouse)


def months_ago(n):
    month = local_day(utcnow()).replace(day=1)
    for _ in range(n):
        month = cm.previous_month(month)
    return month


M1, M2, M3 = months_ago(3), months_ago(2), months_ago(1)


def moment(month, day=10, hour=12):
    """A UTC moment on the company's `day` of `month`."""
    return at_local(month.replace(day=day), time(hour))


@pytest.fixture
def shop(db):
    """Two departments, three marketers (刘芳 and 赵敏 in 一部, 王强 in 二部), a head of 一部, a
    manager, finance; products ¥1,000 in 保健品 and ¥500 in 器械; plenty of stock."""
    one, two = make_department("一部"), make_department("二部")
    s = dict(one=one, two=two)
    s["head"] = make_user(["dept_head"], display_name="周主任", department=one)
    s["a"] = make_user(["marketer"], display_name="刘芳", department=one)
    s["b"] = make_user(["marketer"], display_name="赵敏", department=one)
    s["other"] = make_user(["marketer"], display_name="王强", department=two)
    s["manager"] = make_user(["manager"], display_name="李总")
    s["finance"] = make_user(["finance"], display_name="周静")
    s["warehouse"] = make_warehouse("总仓")
    from models import inventory
    clerk = make_user(["warehouse"])
    s["health"] = make_product("灵芝孢子粉", sale_price=100000, category="保健品", actor=clerk)
    s["device"] = make_product("艾灸仪", sale_price=50000, category="器械", actor=clerk)
    for product in (s["health"], s["device"]):
        inventory.receive(product=product, quantity=500, warehouse=s["warehouse"], actor=clerk,
                          batch_number="B1")
    _db.session.flush()
    return s


def sale(s, marketer, *, health=1, device=0, customer=None, name="顾客"):
    """An order of `marketer` (for a new customer of theirs unless one is given)."""
    lines = [{"product": s["health"], "quantity": health}] if health else []
    lines += [{"product": s["device"], "quantity": device}] if device else []
    customer = customer or make_customer(marketer, name=name)
    return make_order(customer, lines=lines, warehouse=s["warehouse"], actor=marketer,
                      marketer=marketer)


def pay(s, order, amount, when):
    return o.receive_payment(order, amount=amount, method="cash", actor=s["finance"],
                             token=new_token(), at=when, now=when + timedelta(hours=1))


def refund(s, order, amount, when, order_return=None):
    return o.refund(order, amount=amount, method="cash", reason="退款", actor=s["finance"],
                    approver=s["manager"], token=new_token(), at=when, goodwill=True,
                    order_return=order_return, now=when + timedelta(hours=1))


def lines(run, marketer, role=None):
    found = [line for line, _number, _name in cm.lines_of(run, marketer.id)]
    return [line for line in found if role is None or line.role == role]


def after(month, days=3):
    """A moment a few days into the month after `month` (finance approves then)."""
    return moment(cm.next_month(month), days)


# --- Rates -------------------------------------------------------------------------------------

def test_the_rate_of_an_order_is_its_lines_rates_weighted_by_value(db, shop):
    """保健品 at 5 %, 器械 at the default 3 %: an order of ¥1,000 保健品 and ¥1,000 器械 (2 ×
    ¥500) pays at (1,000 × 5 % + 1,000 × 3 %) ÷ 2,000 = 4 %; a package's own rate comes
    before its products' category."""
    s = shop
    category = s["health"].category_id
    cm.save_rules(default_bp=300, tiers="", developer_bp=0, developer_months=0, bonus_yuan=0,
                  deduction_yuan=0, rates={("category", category): 500}, actor=s["manager"])
    order = sale(s, s["a"], health=1, device=2)
    pay(s, order, 100000, moment(M1))
    run = cm.compute_run(M1, actor=s["manager"], now=after(M1))
    [line] = lines(run, s["a"], "sale")
    assert (line.base, line.rate_bp, line.multiplier, line.commission) == (100000, 400, 100,
                                                                           4000)
    rules = cm.current_rules()
    assert cm.order_rate([(None, category, 60000), (None, None, 40000)], rules) == 420
    rules["rates"]["package:9"] = 800
    assert cm.order_rate([(9, category, 100000)], rules) == 800  # the package's, not 5 %
    assert cm.order_rate([], rules) == 300  # an opening debt: no lines, the default


# --- Tiers -------------------------------------------------------------------------------------

@pytest.mark.parametrize("collected, target, multiplier, commission", [
    (700000, 1000000, 80, 16800),     # 70 %: ¥7,000 × 3 % × 0.8 = ¥168
    (800000, 1000000, 100, 24000),    # exactly 80 %: the 80 % tier
    (1190000, 1000000, 100, 35700),   # 119 %: still ×1.0
    (1200000, 1000000, 120, 43200),   # exactly 120 %: ×1.2
    (500000, None, 100, 15000),       # no target: ×1.0
])
def test_tiers_by_the_money_collected_target(db, shop, collected, target, multiplier,
                                             commission):
    s = shop
    if target:
        tg.set_targets("marketer", s["a"], "month", M1, {"collections": target},
                       actor=s["manager"])
    order = sale(s, s["a"], health=15)
    pay(s, order, collected, moment(M1))
    run = cm.compute_run(M1, actor=s["finance"], now=after(M1))
    [line] = lines(run, s["a"], "sale")
    assert (line.multiplier, line.commission) == (multiplier, commission)
    assert run.summary[str(s["a"].id)] == {"target": target, "collected": collected,
                                           "multiplier": multiplier}
    assert cm.totals(run)[s["a"].id]["total"] == commission


def test_a_refund_does_not_lower_attainment_but_takes_its_commission_back(db, shop):
    """¥10,000 collected of a ¥10,000 target (100 %, ×1.0), ¥2,000 refunded in the same month:
    +¥300 and −¥60; attainment stays 100 % (the targets page's money collected)."""
    s = shop
    tg.set_targets("marketer", s["a"], "month", M1, {"collections": 1000000},
                   actor=s["manager"])
    order = sale(s, s["a"], health=10)
    pay(s, order, 1000000, moment(M1, 5))
    refund(s, order, 200000, moment(M1, 20))
    run = cm.compute_run(M1, actor=s["finance"], now=after(M1))
    assert [(x.kind, x.base, x.commission) for x in lines(run, s["a"])] == [
        ("full", 1000000, 30000), ("refund", -200000, -6000)]
    assert cm.totals(run)[s["a"].id] == {"sale": 30000, "clawback": -6000, "developer": 0,
                                         "returns": 0, "lines": 2, "total": 24000}


# --- Clawback across months --------------------------------------------------------------------

def test_a_refund_next_month_claws_back_in_that_month_and_a_return_is_listed(db, shop):
    """M1: ¥2,000 paid (¥60 at 3 %), approved. M2: one of the two boxes comes back (¥1,000,
    listed, earning nothing) and ¥1,000 is refunded: −¥30 in M2; M1 stays as it was."""
    s = shop
    order = sale(s, s["a"], health=2)
    pay(s, order, 200000, moment(M1))
    first = cm.compute_run(M1, actor=s["finance"], now=after(M1))
    cm.approve_run(M1, actor=s["finance"], now=after(M1))
    back = ot.return_goods(order, order.lines[0], quantity=1, reason="不要了",
                           approver=s["manager"], actor=s["finance"], token=new_token(),
                           now=moment(M2, 8))
    refund(s, order, 100000, moment(M2, 9), order_return=back)
    second = cm.compute_run(M2, actor=s["finance"], now=after(M2))
    assert [(x.role, x.kind, x.base, x.commission) for x in lines(second, s["a"])] == [
        ("return", "return", -100000, 0), ("sale", "refund", -100000, -3000)]
    assert cm.totals(second)[s["a"].id]["returns"] == 100000
    assert cm.totals(second)[s["a"].id]["total"] == -3000
    assert cm.totals(first)[s["a"].id]["total"] == 6000


def test_reversals_count_with_the_sign_of_what_they_reverse(db, shop):
    s = shop
    order = sale(s, s["a"], health=2)
    receipt = pay(s, order, 200000, moment(M1, 3))
    paid_back = refund(s, order, 50000, moment(M1, 4))
    o.reverse_payment(paid_back, reason="录错", actor=s["finance"], now=moment(M1, 5))
    o.reverse_payment(receipt, reason="录错", actor=s["finance"], now=moment(M1, 6))
    run = cm.compute_run(M1, actor=s["finance"], now=after(M1))
    assert [(x.kind, x.base, x.commission) for x in lines(run, s["a"])] == [
        ("full", 200000, 6000), ("refund", -50000, -1500), ("refund", 50000, 1500),
        ("full", -200000, -6000)]
    # what the targets page counts as money collected: the receipt less its reversal
    assert run.summary[str(s["a"].id)]["collected"] == 0


# --- The developer's share ---------------------------------------------------------------------

def test_the_developer_earns_a_share_after_a_transfer_and_loses_it_on_a_refund(db, shop):
    """刘芳 registered the customer; a manager handed them to 赵敏, who sells ¥10,000: 赵敏 earns
    3 % (¥300), 刘芳 1 % (¥100); a ¥4,000 refund takes ¥120 and ¥40 back. A payment dated a
    year after the registration earns 刘芳 nothing."""
    s = shop
    customer = make_customer(s["a"], name="老客户")
    registered = _db.session.scalar(select(c.OwnershipChange.at).where(
        c.OwnershipChange.customer_id == customer.id))
    # handed over, put in the pool, claimed: the developer stays 刘芳 whoever owns them now
    c.transfer_customers([customer.id], s["other"], actor=s["manager"], reason="调岗")
    c.release_to_pool([customer.id], actor=s["manager"], reason="久未跟进")
    c.claim_from_pool(customer, actor=s["b"])
    assert customer.owner_id == s["b"].id
    order = sale(s, s["b"], health=10, customer=customer)
    pay(s, order, 1000000, moment(M1, 5))
    refund(s, order, 400000, moment(M1, 6))
    run = cm.compute_run(M1, actor=s["finance"], now=after(M1))
    assert [(x.kind, x.commission) for x in lines(run, s["b"])] == [("full", 30000),
                                                                    ("refund", -12000)]
    assert [(x.role, x.kind, x.rate_bp, x.commission) for x in lines(run, s["a"])] == [
        ("developer", "full", 100, 10000), ("developer", "refund", 100, -4000)]
    assert cm.totals(run)[s["a"].id]["developer"] == 6000
    # a payment on the day twelve months after the registration earns no share
    end = cm.add_months(local_day(registered), 12)
    assert pay(s, order, 10000, at_local(end, time(12))).at >= at_local(end)


def test_the_share_ends_n_months_after_registration(db, shop):
    """Registered on the 10th of M1 with a share for 1 month: paid on the 9th of M2 it earns
    the share, on the 10th it does not."""
    s = shop
    update_settings({"commission.developer_months": 1}, actor=s["manager"])
    customer = make_customer(s["a"], name="新客户")
    change = _db.session.scalar(select(c.OwnershipChange).where(
        c.OwnershipChange.customer_id == customer.id))
    change.at = moment(M1, 10, 9)
    order = sale(s, s["b"], health=2, customer=customer)
    pay(s, order, 100000, moment(M2, 9, 23))
    pay(s, order, 100000, moment(M2, 10, 1))
    cm.compute_run(M1, actor=s["finance"], now=after(M1))
    cm.approve_run(M1, actor=s["finance"], now=after(M1))
    run = cm.compute_run(M2, actor=s["finance"], now=after(M2))
    assert [(local_day(x.at).day, x.commission) for x in lines(run, s["a"])] == [(9, 1000)]


def test_add_months_keeps_the_day_or_the_months_last():
    from datetime import date
    assert cm.add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert cm.add_months(date(2025, 11, 15), 12) == date(2026, 11, 15)
    assert cm.add_months(date(2026, 12, 1), 1) == date(2027, 1, 1)


def test_no_share_for_the_developer_who_sells_themself(db, shop):
    s = shop
    order = sale(s, s["a"], health=1)
    pay(s, order, 100000, moment(M1))
    run = cm.compute_run(M1, actor=s["finance"], now=after(M1))
    assert [x.role for x in lines(run, s["a"])] == ["sale"]


# --- The locked month --------------------------------------------------------------------------

def test_a_locked_month_is_never_recomputed_nor_approved_again(db, shop):
    s = shop
    order = sale(s, s["a"], health=2)
    pay(s, order, 100000, moment(M1))
    cm.compute_run(M1, actor=s["manager"], now=after(M1))
    run = cm.approve_run(M1, actor=s["finance"], now=after(M1))
    assert run.is_locked and run.approved_by_id == s["finance"].id
    with pytest.raises(Conflict) as refused:
        cm.compute_run(M1, actor=s["manager"], now=after(M1, 5))
    assert "已审批锁定" in refused.value.message and "下月" in refused.value.message
    with pytest.raises(Conflict) as refused:
        cm.approve_run(M1, actor=s["finance"], now=after(M1, 5))
    assert "已审批锁定" in refused.value.message
    with pytest.raises(Conflict):
        cm.discard_run(M1, actor=s["finance"], now=after(M1, 5))
    assert _db.session.scalar(select(func.count()).select_from(cm.CommissionRun)) == 1


def test_a_payment_recorded_after_its_month_was_locked_goes_into_the_next_run_once(db, shop):
    """M1 locked with ¥1,000 (×0.8: 刘芳 reached 50 % of a ¥2,000 target). Then finance enters a
    ¥1,000 payment dated in M1: it is a late line of M2 at M1's ×0.8 (¥24), not in M1; M2
    recomputed keeps it once; once M2 is locked, M3 does not count it again."""
    s = shop
    tg.set_targets("marketer", s["a"], "month", M1, {"collections": 200000}, actor=s["manager"])
    order = sale(s, s["a"], health=5)
    pay(s, order, 100000, moment(M1, 5))
    cm.compute_run(M1, actor=s["finance"], now=after(M1))
    cm.approve_run(M1, actor=s["finance"], now=after(M1))
    late = o.receive_payment(order, amount=100000, method="cash", actor=s["finance"],
                             token=new_token(), at=moment(M1, 20), now=after(M1, 6))
    pay(s, order, 50000, moment(M2, 15))
    run = cm.compute_run(M2, actor=s["finance"], now=after(M2))
    cm.compute_run(M2, actor=s["finance"], now=after(M2, 4))  # a draft: recomputed at will
    got = [(x.payment_id == late.id, x.is_late, x.multiplier, x.commission)
           for x in lines(run, s["a"])]
    assert got == [(True, True, 80, 2400), (False, False, 100, 1500)]
    assert run.late_payments == 1
    cm.approve_run(M2, actor=s["finance"], now=after(M2, 5))
    third = cm.compute_run(M3, actor=s["finance"], now=after(M3))
    assert lines(third, s["a"]) == []
    counted = _db.session.scalar(select(func.count()).select_from(cm.CommissionLine).where(
        cm.CommissionLine.payment_id == late.id, cm.CommissionLine.locked))
    assert counted == 1


def test_approval_is_refused_for_a_stale_draft(db, shop):
    s = shop
    order = sale(s, s["a"], health=3)
    pay(s, order, 100000, moment(M1, 5))
    computed = after(M1)
    cm.compute_run(M1, actor=s["finance"], now=computed)
    o.receive_payment(order, amount=50000, method="cash", actor=s["finance"],
                      token=new_token(), at=moment(M1, 28), now=computed + timedelta(hours=2))
    with pytest.raises(Conflict) as refused:
        cm.approve_run(M1, actor=s["finance"], now=computed + timedelta(hours=3))
    assert "1 笔收款" in refused.value.message and "重新计算" in refused.value.message
    run = cm.compute_run(M1, actor=s["finance"], now=computed + timedelta(hours=4))
    assert run.payments == 2
    update_settings({"commission.default_rate_bp": 400}, actor=s["manager"])
    with pytest.raises(Conflict) as refused:  # the rules changed since
        cm.approve_run(M1, actor=s["finance"], now=computed + timedelta(hours=5))
    assert "规则" in refused.value.message
    cm.compute_run(M1, actor=s["finance"], now=computed + timedelta(hours=6))
    tg.set_targets("marketer", s["a"], "month", M1, {"collections": 100}, actor=s["manager"])
    with pytest.raises(Conflict) as refused:  # and a target of the month
        cm.approve_run(M1, actor=s["finance"], now=computed + timedelta(hours=7))
    assert "目标" in refused.value.message
    cm.compute_run(M1, actor=s["finance"], now=computed + timedelta(hours=8))
    assert cm.approve_run(M1, actor=s["finance"],
                          now=computed + timedelta(hours=9)).total == 7200  # ¥1,500 × 4 % × 1.2


def test_months_go_in_order_and_the_first_run_bounds_history(db, shop):
    s = shop
    order = sale(s, s["a"], health=3)
    pay(s, order, 100000, moment(M1, 5))
    pay(s, order, 100000, moment(M2, 5))
    cm.compute_run(M2, actor=s["finance"], now=after(M2))
    with pytest.raises(Conflict) as refused:  # another draft is open
        cm.compute_run(M3, actor=s["finance"], now=after(M3))
    assert cm.month_label(M2) in refused.value.message
    cm.approve_run(M2, actor=s["finance"], now=after(M2))
    with pytest.raises(Conflict):  # before the first run
        cm.compute_run(M1, actor=s["finance"], now=after(M3))
    # a payment dated before the first run's month, recorded late, never counts
    o.receive_payment(order, amount=10000, method="cash", actor=s["finance"],
                      token=new_token(), at=moment(M1, 20), now=after(M2, 6))
    run = cm.compute_run(M3, actor=s["finance"], now=after(M3))
    assert run.late_payments == 0 and lines(run, s["a"]) == []


def test_a_draft_may_be_discarded_and_another_month_computed(db, shop):
    s = shop
    cm.compute_run(M2, actor=s["manager"], now=after(M2))
    cm.discard_run(M2, actor=s["manager"], now=after(M2))
    assert cm.compute_run(M1, actor=s["manager"], now=after(M2)).month == M1


# --- Bad input ---------------------------------------------------------------------------------

@pytest.mark.parametrize("rates, default, message", [
    ({}, 10001, "不能高于 100 %"),
    ({}, -1, "不能低于 0 %"),
    ({("category", 1): 12000}, 300, "不能高于 100 %"),
    ({("category", 1): -5}, 300, "不能低于 0 %"),
])
def test_a_rate_above_100_or_below_0_is_refused_and_nothing_written(db, shop, rates, default,
                                                                    message):
    s = shop
    with pytest.raises(InvalidInput) as refused:
        cm.save_rules(default_bp=default, tiers="0:80", developer_bp=100, developer_months=12,
                      bonus_yuan=0, deduction_yuan=0, rates=rates, actor=s["manager"])
    assert message in refused.value.message
    assert cm.rate_table() == {}
    assert cm.current_rules()["default_bp"] == 300


def test_bad_tiers_and_percent_are_refused(db, shop):
    for text in ("80", "a:b", "0:80, 0:90", "2000:100"):
        with pytest.raises(InvalidInput):
            cm.parse_tiers(text)
    assert cm.parse_tiers("120:120，0:80, 80：100") == [(0, 80), (80, 100), (120, 120)]
    assert cm.bp_of_percent("3.5") == 350 and cm.bp_of_percent("") is None
    for text in ("3.333", "abc", "NaN"):
        with pytest.raises(InvalidInput):
            cm.bp_of_percent(text)
    with pytest.raises(PermissionDenied):
        cm.save_rules(default_bp=300, tiers="", developer_bp=0, developer_months=0,
                      bonus_yuan=0, deduction_yuan=0, rates={}, actor=shop["finance"])


def test_a_month_in_the_future_or_not_over_is_refused(db, shop):
    s = shop
    this_month = local_day(utcnow()).replace(day=1)
    with pytest.raises(InvalidInput) as refused:
        cm.compute_run(cm.next_month(this_month), actor=s["finance"])
    assert "未来" in refused.value.message
    cm.compute_run(this_month, actor=s["finance"])  # a draft of this month so far
    with pytest.raises(Conflict) as refused:
        cm.approve_run(this_month, actor=s["finance"])
    assert "尚未结束" in refused.value.message
    with pytest.raises(InvalidInput):
        cm.parse_month("2026-13", local_day(utcnow()))
    assert cm.parse_month("2026-03-15", local_day(utcnow())).isoformat() == "2026-03-01"
    assert _db.session.scalar(select(func.count()).select_from(cm.CommissionRun)) == 1


def test_who_computes_approves_and_sees(db, shop):
    s = shop
    with pytest.raises(PermissionDenied):
        cm.compute_run(M1, actor=s["a"], now=after(M1))
    with pytest.raises(PermissionDenied):
        cm.compute_run(M1, actor=s["head"], now=after(M1))
    cm.compute_run(M1, actor=s["manager"], now=after(M1))
    with pytest.raises(PermissionDenied):
        cm.approve_run(M1, actor=s["manager"], now=after(M1))
    with pytest.raises(NotFound):  # a marketer out of scope
        cm.marketer_or_404(s["other"].id, s["head"])
    with pytest.raises(NotFound):
        cm.marketer_or_404(s["b"].id, s["a"])
    assert cm.marketer_or_404(s["b"].id, s["head"]) == s["b"]
    assert cm.marketer_or_404(s["other"].id, s["finance"]) == s["other"]
    assert [m.display_name for m in cm.marketers_seen(s["head"])] == ["刘芳", "赵敏"]
    assert cm.marketers_seen(s["a"]) == [s["a"]]
