"""Price authority (issue 25 §1): floor prices, discount caps per role on both sides, grade
prices that count as within authority, approval by a department head or manager (on their
device or by PIN) reusing the large-order confirmation, the audit, and the performance figures
优惠总额 / 低于底价单数.

The shop's product 灵芝孢子粉 lists at ¥198 and costs ¥60 (its floor, none being set)."""
import pytest
from flask import current_app
from sqlalchemy import select

from models import inventory as inv, order_taking, orders as o
from models.audit import AuditEntry
from models.base import Conflict, InvalidInput, PermissionDenied, new_token
from models.orders import safeguards
from models.settings import update_settings
from models.tasks import Task
from reports import performance
from reports.params import Params
from tests.factories import make_user


def sell(s, unit_price=None, *, actor=None, quantity=1, discount=0, deposit=0, customer=None):
    line = {"product": s.product, "quantity": quantity, "discount": discount}
    if unit_price is not None:
        line["unit_price"] = unit_price
    order, deferred = order_taking.take_order(
        customer or s.customer, lines=[line], actor=actor or s.marketer, token=new_token(),
        warehouse=s.warehouse, channel="store", deposit=deposit, payment_token=new_token())
    return order, deferred


def stock(s):
    return inv.quantity_in(inv.location_of(s.warehouse), s.product)


def settings(**values):
    update_settings({f"orders.{key}": value for key, value in values.items()},
                    actor=make_user(["admin"]))


def test_a_marketer_sells_up_to_ten_percent_off_and_beyond_it_the_order_waits(db, shop):
    within, _ = sell(shop, 17820)  # ¥198 − 10 % = ¥178.20: exactly the cap
    assert not within.is_pending and within.price_reason == ""
    assert within.list_total == 19800 and within.discount_given == 1980
    over, deferred = sell(shop, 17819, deposit=5000)  # one fen more off: 10.01 %, rounded up
    assert over.is_pending and deferred, "no deposit is taken while the order waits"
    assert "10.1%" in over.price_reason  # 10.005 %, shown to a tenth, rounded up
    assert "10%" in over.price_reason  # the cap it went beyond
    assert over.discount_needed == 11 and over.paid == 0
    assert stock(shop) == 49, "only the order within authority handed goods over"
    with pytest.raises(Conflict, match="确认"):
        o.receive_payment(over, amount=100, method="cash", actor=shop.finance,
                          token=new_token())
    # A discount typed as money off the line counts the same as a lower unit price.
    by_discount, _ = sell(shop, quantity=2, discount=3961)  # 10.002 % off ¥396
    assert by_discount.is_pending and by_discount.discount_needed == 11


def test_the_caps_are_settings_and_a_department_head_has_a_wider_one(db, shop):
    head_order, _ = sell(shop, 15840, actor=shop.head)  # 20 % off: the head's own cap
    assert not head_order.is_pending
    over, _ = sell(shop, 15839, actor=shop.head)
    assert over.is_pending and over.discount_needed == 21
    settings(cap_marketer_pct=25)
    assert not sell(shop, 14850)[0].is_pending  # 25 % off, now within the marketer's cap


def test_a_line_below_the_floor_price_needs_approval_even_within_the_cap(db, shop):
    shop.product.floor_price = 19000
    assert not sell(shop, 19000)[0].is_pending  # at the floor: fine
    order, _ = sell(shop, 18900)  # 4.5 % off, within the cap, but under the floor
    assert order.is_pending and order.below_floor
    assert "最低售价" in order.price_reason and "¥190.00" in order.price_reason
    # Without a floor set, the cost is the floor: a manager may sell at ¥1, recorded as such.
    shop.product.floor_price = None
    by_manager, _ = sell(shop, 100, actor=shop.manager)
    assert not by_manager.is_pending and by_manager.below_floor
    assert by_manager.discount_given == 19700


def test_a_grade_price_is_offered_and_counts_as_within_authority(db, shop):
    settings(grade_a_pct=85)
    shop.customer.grade = "A"
    order, _ = sell(shop)  # no unit price typed: the grade's, ¥168.30
    assert order.lines[0].unit_price == 16830 and order.lines[0].list_price == 19800
    assert not order.is_pending and order.discount_given == 2970
    assert sell(shop, 16830)[0].is_pending is False
    below_grade, _ = sell(shop, 16829)  # under the grade price and beyond the 10 % cap
    assert below_grade.is_pending and below_grade.discount_needed == 16
    shop.customer.grade = "B"  # grade B keeps the list price
    assert sell(shop)[0].lines[0].unit_price == 19800


def test_approval_by_the_head_on_their_device_hands_the_goods_over_and_is_audited(db, shop):
    order, _ = sell(shop, 16000)  # 19.2 % off: beyond the marketer, within the head
    assert {u.id for u in safeguards.confirmers_for(order, shop.marketer)} == \
        {shop.head.id, shop.manager.id}
    with pytest.raises(PermissionDenied, match="赵经理"):  # head of another department
        order_taking.confirm_order(order, confirmer=shop.other_head, actor=shop.other_head)
    order_taking.confirm_order(order, confirmer=shop.head, actor=shop.head)
    assert not order.is_pending and order.confirmed_by_id == shop.head.id
    assert stock(shop) == 49
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "order.price_approve"))
    assert "刘芳" in entry.summary and "陈经理" in entry.summary and "¥38.00" in entry.summary
    # A price approval is not a large order: no confirmation call is written.
    assert db.session.scalar(select(Task).where(Task.kind == "confirm_call")) is None
    o.receive_payment(order, amount=16000, method="cash", actor=shop.finance, token=new_token())
    assert order.balance_due == 0


def test_beyond_the_heads_cap_only_a_manager_approves(db, shop):
    order, _ = sell(shop, 14850)  # 25 % off
    assert [u.id for u in safeguards.confirmers_for(order, shop.marketer)] == [shop.manager.id]
    with pytest.raises(PermissionDenied, match="总经理"):
        order_taking.confirm_order(order, confirmer=shop.head, actor=shop.head)
    assert order.is_pending
    order_taking.confirm_order(order, confirmer=shop.manager, actor=shop.manager)
    assert not order.is_pending


def test_approval_by_pin_on_the_marketers_tablet_and_a_marketers_pin_is_refused(db, shop):
    order, _ = sell(shop, 16000)
    safeguards.set_pin(shop.head, pin="2468", password="secret123")
    with pytest.raises(safeguards.WrongPin):
        order_taking.confirm_order(order, confirmer=shop.head, actor=shop.marketer, pin="1111")
    other = make_user(["marketer"], department=shop.department)
    with pytest.raises(PermissionDenied, match="部门经理或总经理"):
        order_taking.confirm_order(order, confirmer=other, actor=shop.marketer, pin="2468")
    assert order.is_pending
    order_taking.confirm_order(order, confirmer=shop.head, actor=shop.marketer, pin="2468")
    assert order.confirmation == "confirmed"


def test_a_package_is_sold_at_its_price_and_may_not_be_priced_below_its_floors(db, shop):
    with pytest.raises(InvalidInput, match="最低售价"):
        o.save_package(None, name="亏本套餐", price=11999, items=[(shop.product, 2)],
                       actor=shop.manager)  # floors: 2 × ¥60
    package = o.save_package(None, name="两盒装", price=12000, items=[(shop.product, 2)],
                             actor=shop.manager)  # 70 % off the list price, set by a manager
    order = order_taking.create_order(shop.customer, lines=o.package_lines(package),
                                      actor=shop.marketer, token=new_token(),
                                      warehouse=shop.warehouse, channel="store")
    assert not order.is_pending and order.discount_given == 39600 - 12000
    assert not order.below_floor


def test_bad_prices_are_refused_and_nothing_is_written(db, shop):
    before = db.session.scalar(select(o.Order.id).order_by(o.Order.id.desc()))
    for line, message in (({"unit_price": -1}, "单价"), ({"discount": 19801}, "优惠"),
                          ({"discount": -5}, "优惠")):
        with pytest.raises(InvalidInput, match=message):
            order_taking.create_order(
                shop.customer, lines=[{"product": shop.product, "quantity": 1, **line}],
                actor=shop.marketer, token=new_token(), warehouse=shop.warehouse,
                channel="store")
    assert db.session.scalar(select(o.Order.id).order_by(o.Order.id.desc())) == before
    with pytest.raises(InvalidInput, match="最低售价"):
        inv.update_product(shop.product, {"sku": "LZ-001", "name": "灵芝孢子粉", "unit": "盒",
                                          "sale_price": 19800, "standard_cost": 6000,
                                          "floor_price": 19900, "for_sale": True},
                           actor=shop.manager)


def test_the_performance_report_sums_discounts_and_orders_below_the_floor(db, shop):
    """By hand: ¥198 at ¥178.20 (¥19.80 off), at ¥160 approved by the head (¥38 off, above
    the floor ¥60), at ¥50 by a manager credited to 刘芳 (¥148 off, below the floor); a
    pending order (¥100) and a cancelled one (¥170) count nowhere."""
    sell(shop, 17820)
    approved, _ = sell(shop, 16000)
    order_taking.confirm_order(approved, confirmer=shop.head, actor=shop.head)
    order_taking.create_order(shop.customer, lines=[{"product": shop.product, "quantity": 1,
                                                     "unit_price": 5000}],
                              actor=shop.manager, marketer=shop.marketer, token=new_token(),
                              warehouse=shop.warehouse, channel="store")
    sell(shop, 10000)  # waits for approval
    cancelled, _ = sell(shop, 17000)
    order_taking.cancel_order(cancelled, reason="顾客改主意", actor=shop.marketer)
    today = performance.local_day(performance.utcnow())
    params = Params(user=shop.manager, start=today, end=today)
    values = performance.figures(params, [shop.marketer.id])[shop.marketer.id]
    assert values["discounts"] == 1980 + 3800 + 14800
    assert values["below_floor"] == 1
    with current_app.test_request_context("/"):  # the rows carry the URLs they link to
        rows = performance.rows_behind(params, "discounts", shop.marketer.id)
        below = performance.rows_behind(params, "below_floor", shop.marketer.id)
    assert sum(value for _label, value, _money, _url in rows) == values["discounts"]
    assert len(below) == 1 and below[0][1] is None
