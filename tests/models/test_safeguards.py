"""Safeguards for older customers (issue 14 B): cooling-off refunds on both sides of the
boundary day (Asia/Shanghai midnight), large orders held until a department head or manager
confirms, the family contact, the PIN on the marketer's tablet."""
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from models import customers as c, inventory as inv, order_taking, orders as o
from models.base import Conflict, InvalidInput, PermissionDenied, new_token
from models.ledgers import check_ledgers
from models.orders import safeguards
from models.settings import update_settings
from models.tasks import Task
from tests.factories import make_order, make_user

SHANGHAI = ZoneInfo("Asia/Shanghai")


def shanghai(*args):
    return datetime(*args, tzinfo=SHANGHAI)


def order_of(s, quantity=2, held=0, **kwargs):
    return make_order(s.customer, warehouse=s.warehouse, actor=s.marketer,
                      lines=[{"product": s.product, "quantity": quantity, "held": held}],
                      **kwargs)


def stock(s):
    return inv.quantity_in(inv.location_of(s.warehouse), s.product)


def clean_books():
    problems = check_ledgers()
    assert all(found == [] for found in problems.values()), problems


def payments_count(order):
    return o.Payment.query.filter_by(order_id=order.id).count()


# --- Cooling-off ---------------------------------------------------------------------------------

@pytest.mark.parametrize("taken_at, last_day", [
    (shanghai(2026, 11, 25, 10, 0), "2026-12-02"),
    # 23:30 in Shanghai is still the 25th there (15:30 UTC): the period counts from local days
    (shanghai(2026, 11, 25, 23, 30), "2026-12-02"),
    # 00:10 in Shanghai on the 26th is the 25th in UTC: still the 26th here
    (shanghai(2026, 11, 26, 0, 10), "2026-12-03"),
])
def test_the_cooling_off_period_ends_on_the_orders_local_day_plus_the_setting(db, shop, taken_at,
                                                                               last_day):
    order = order_of(shop, now=taken_at)
    assert str(safeguards.cooling_off_last_day(order)) == last_day


def test_finance_refunds_alone_up_to_the_last_minute_of_the_cooling_off_period(db, shop):
    finance, manager = shop.finance, shop.manager
    order = order_of(shop, now=shanghai(2026, 11, 25, 10, 0))
    o.receive_payment(order, amount=order.total, method="cash", actor=finance, token=new_token(),
                      now=shanghai(2026, 11, 25, 10, 5))
    order_taking.return_goods(order, order.lines[0], quantity=1, reason="客户反悔",
                              approver=manager, actor=manager, token=new_token(),
                              now=shanghai(2026, 11, 26, 10, 0))
    inside = shanghai(2026, 12, 2, 23, 59, 59)
    refund = o.refund(order, amount=30_00, method="cash", reason="客户反悔", actor=finance,
                      approver=finance, token=new_token(), at=inside, now=inside)
    assert refund.amount == -30_00

    # One second later it is the 3rd in Shanghai: finance alone may no longer refund.
    outside = shanghai(2026, 12, 3, 0, 0, 0)
    before = payments_count(order)
    with pytest.raises(PermissionDenied, match="冷静期.*2026-12-02.*经理"):
        o.refund(order, amount=20_00, method="cash", reason="客户反悔", actor=finance,
                 approver=finance, token=new_token(), at=outside, now=outside)
    assert payments_count(order) == before
    # A manager approves it.
    o.refund(order, amount=20_00, method="cash", reason="客户反悔", actor=finance,
             approver=manager, token=new_token(), at=outside, now=outside)
    assert order.paid == order.total - 50_00
    clean_books()


def test_a_refund_counts_against_the_marketer_credited(db, shop):
    from reports import performance
    from reports.params import Params
    finance = shop.finance
    order = order_of(shop, now=shanghai(2026, 11, 20, 10, 0))
    o.receive_payment(order, amount=order.total, method="cash", actor=finance,
                      token=new_token(), now=shanghai(2026, 11, 20, 10, 5))
    order_taking.return_goods(order, order.lines[0], quantity=2, reason="冷静期内反悔",
                              approver=shop.manager, actor=shop.manager, token=new_token(),
                              now=shanghai(2026, 11, 22, 8, 0))
    o.refund(order, amount=order.total, method="cash", reason="冷静期内反悔", actor=finance,
             approver=finance, token=new_token(), now=shanghai(2026, 11, 22, 9, 0))
    params = Params(user=shop.manager, start=shanghai(2026, 11, 1).date(),
                    end=shanghai(2026, 11, 30).date())
    values = performance.figures(params, [shop.marketer.id])
    assert values[shop.marketer.id]["refunds"] == order.total


# --- Large orders ----------------------------------------------------------------------------------

def test_a_large_order_is_not_binding_until_a_department_head_confirms(db, shop):
    update_settings({"orders.large_order_yuan": 1000}, actor=make_user(["admin"]))
    marketer, head, finance = shop.marketer, shop.head, shop.finance
    order = order_of(shop, quantity=6, held=2, now=shanghai(2026, 11, 25, 10, 0))  # ¥1,188
    assert order.is_pending and "1,000" in order.confirmation_reason
    assert stock(shop) == 50, "nothing leaves before the confirmation"
    clean_books()
    with pytest.raises(Conflict, match="确认"):
        o.receive_payment(order, amount=100_00, method="cash", actor=finance, token=new_token())
    assert payments_count(order) == 0
    with pytest.raises(Conflict, match="确认"):
        order_taking.return_goods(order, order.lines[0], quantity=1, reason="x", approver=finance,
                                  actor=finance, token=new_token())

    # The marketer cannot confirm their own order; a head of another department cannot either.
    with pytest.raises(PermissionDenied):
        order_taking.confirm_order(order, confirmer=marketer, actor=marketer)
    with pytest.raises(PermissionDenied, match="赵经理"):
        order_taking.confirm_order(order, confirmer=shop.other_head,
                                   actor=shop.other_head)
    assert order.is_pending

    now = shanghai(2026, 11, 25, 10, 30)
    order_taking.confirm_order(order, confirmer=head, actor=head, now=now)
    assert order.confirmation == "confirmed" and order.confirmed_by_id == head.id
    assert stock(shop) == 44 and inv.quantity_in(
        inv.location_of(shop.warehouse, "custody"), shop.product) == 2
    [task] = db.session.scalars(select(Task).where(Task.kind == "confirm_call")).all()
    assert (str(task.due_date), task.assignee_id, task.customer_id) == \
        ("2026-11-26", head.id, order.customer_id)
    assert task.assignee_id != marketer.id
    o.receive_payment(order, amount=100_00, method="cash", actor=finance, token=new_token())
    with pytest.raises(Conflict):
        order_taking.confirm_order(order, confirmer=head, actor=head)
    clean_books()


def test_on_the_marketers_tablet_the_head_confirms_with_their_pin(db, shop):
    update_settings({"orders.large_order_yuan": 1000}, actor=make_user(["admin"]))
    marketer, head = shop.marketer, shop.head
    order = order_of(shop, quantity=6)
    with pytest.raises(PermissionDenied, match="PIN"):  # no PIN set yet
        order_taking.confirm_order(order, confirmer=head, actor=marketer, pin="1234")
    with pytest.raises(InvalidInput, match="4"):
        safeguards.set_pin(head, pin="12", password="secret123")
    with pytest.raises(InvalidInput, match="密码"):
        safeguards.set_pin(head, pin="2468", password="wrong")
    with pytest.raises(PermissionDenied):
        safeguards.set_pin(marketer, pin="2468", password="secret123")
    safeguards.set_pin(head, pin="2468", password="secret123")
    with pytest.raises(safeguards.WrongPin):
        order_taking.confirm_order(order, confirmer=head, actor=marketer, pin="1111")
    assert order.is_pending
    order_taking.confirm_order(order, confirmer=head, actor=marketer, pin="2468")
    assert order.confirmation == "confirmed" and order.confirmed_by_id == head.id


def test_five_wrong_pins_stop_the_pin_for_a_quarter_of_an_hour(db, shop):
    update_settings({"orders.large_order_yuan": 1000}, actor=make_user(["admin"]))
    marketer, head = shop.marketer, shop.head
    safeguards.set_pin(head, pin="2468", password="secret123")
    order = order_of(shop, quantity=6)
    for _n in range(safeguards.MAX_PIN_FAILURES):
        with pytest.raises(safeguards.WrongPin) as caught:
            order_taking.confirm_order(order, confirmer=head, actor=marketer, pin="0000")
        safeguards.record_pin_failure(caught.value, actor=marketer, order_number=order.number)
    with pytest.raises(PermissionDenied, match="太多"):
        order_taking.confirm_order(order, confirmer=head, actor=marketer, pin="2468")
    # On their own device the head still confirms.
    order_taking.confirm_order(order, confirmer=head, actor=head)
    assert order.confirmation == "confirmed"


def test_spending_above_the_30_day_threshold_needs_the_confirmation_too(db, shop):
    update_settings({"orders.large_order_yuan": 0, "orders.large_spend_30d_yuan": 1000},
                    actor=make_user(["admin"]))
    first = order_of(shop, quantity=3, now=shanghai(2026, 10, 20, 10, 0))   # ¥594, 36 days ago
    second = order_of(shop, quantity=3, now=shanghai(2026, 11, 20, 10, 0))  # ¥594
    assert not first.is_pending and not second.is_pending  # the first is outside 30 days
    third = order_of(shop, quantity=3, now=shanghai(2026, 11, 25, 10, 0))   # 594 + 594 > 1000
    assert third.is_pending and "1,188" in third.confirmation_reason


def test_the_family_contact_must_be_told_when_the_company_asks(db, shop):
    update_settings({"orders.large_order_yuan": 1000, "orders.large_needs_family": True},
                    actor=make_user(["admin"]))
    head, customer = shop.head, shop.customer
    order = order_of(shop, quantity=6)
    with pytest.raises(Conflict, match="家属"):
        order_taking.confirm_order(order, confirmer=head, actor=head, family_informed=True)
    data = c.CustomerData(name=customer.name, phone=customer.phone_national,
                          family_name="王小明", family_relation="儿子",
                          family_phone="13900001111")
    c.update_customer(customer, data, actor=shop.marketer)
    assert customer.family_phone == "+8613900001111"
    with pytest.raises(InvalidInput, match="家属"):
        order_taking.confirm_order(order, confirmer=head, actor=head, family_informed=False)
    order_taking.confirm_order(order, confirmer=head, actor=head, family_informed=True)
    assert order.family_informed


def test_a_family_phone_without_a_name_or_not_a_mobile_is_refused(db, shop):
    customer = shop.customer
    for fields, message in (({"family_phone": "13900001111"}, "姓名"),
                            ({"family_name": "王小明", "family_phone": "12345"}, "手机")):
        data = c.CustomerData(name=customer.name, phone=customer.phone_national, **fields)
        with pytest.raises(InvalidInput, match=message):
            c.update_customer(customer, data, actor=shop.marketer)
    assert customer.family_phone == ""


def test_a_pending_order_can_be_cancelled_and_the_books_stay_clean(db, shop):
    update_settings({"orders.large_order_yuan": 1000}, actor=make_user(["admin"]))
    order = order_of(shop, quantity=6, held=3)
    order_taking.cancel_order(order, reason="家属不同意", actor=shop.marketer)
    assert order.status == "cancelled" and stock(shop) == 50
    clean_books()


def test_a_large_order_short_of_stock_is_refused_at_the_table(db, shop):
    update_settings({"orders.large_order_yuan": 1000}, actor=make_user(["admin"]))
    before = db.session.scalar(select(func.count(o.Order.id)))
    with pytest.raises(Conflict, match="50"):
        order_of(shop, quantity=60)
    db.session.rollback()
    assert db.session.scalar(select(func.count(o.Order.id))) == before


def test_a_threshold_below_zero_is_refused(db, shop):
    admin = make_user(["admin"])
    for key in ("orders.large_order_yuan", "orders.large_spend_30d_yuan",
                "orders.cooling_off_days"):
        with pytest.raises(InvalidInput, match="不能小于 0"):
            update_settings({key: -1}, actor=admin)
