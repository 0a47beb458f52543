"""The money under random sequences (hypothesis) and under concurrency: paid never above the
total, refunds never above paid, returns never above sold, stock moves matching the goods."""

from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import func, select

from extensions import db as _db
from models import inventory as inv, order_taking, orders as o
from models.accounts import User
from models.base import Conflict, InvalidInput, begin_write, new_token
from models.ledgers import check_ledgers
from tests.factories import (make_customer, make_order, make_stocked_product, make_user,
                             make_warehouse)
from tests.races import race

steps = st.lists(st.one_of(
    st.tuples(st.just("pay"), st.integers(1, 60000)),
    st.tuples(st.just("refund"), st.integers(1, 60000)),
    st.tuples(st.just("return"), st.integers(0, 1), st.integers(1, 4),
              st.sampled_from(["restock", "scrap"])),
    st.tuples(st.just("reverse"), st.integers(0, 50)),
), min_size=1, max_size=20)


@settings(max_examples=50, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=steps)
def test_random_money_and_returns_keep_every_rule(db, sequence):
    warehouse = make_warehouse()
    finance, manager = make_user(["finance"]), make_user(["manager"])
    customer = make_customer()
    a = make_stocked_product(warehouse, 20, sale_price=10000)
    b = make_stocked_product(warehouse, 20, sale_price=25000)
    order = make_order(customer, warehouse=warehouse, actor=customer.owner,
                       lines=[{"product": a, "quantity": 3, "held": 1},
                              {"product": b, "quantity": 2, "discount": 3000}])
    entries = []
    for step in sequence:
        try:
            if step[0] == "pay":
                entries.append(o.receive_payment(order, amount=step[1], method="cash",
                                                 actor=finance, token=new_token()))
            elif step[0] == "refund":
                entries.append(o.refund(order, amount=step[1], method="cash", reason="退",
                                        actor=finance, approver=manager, token=new_token()))
            elif step[0] == "return":
                order_taking.return_goods(order, order.lines[step[1]], quantity=step[2],
                                          reason="退货", approver=manager, actor=finance,
                                          token=new_token(), disposition=step[3])
            elif step[0] == "reverse" and entries:
                entries.append(o.reverse_payment(entries[step[1] % len(entries)], reason="错",
                                                 actor=finance))
        except (Conflict, InvalidInput):
            pass  # refused: the checks below prove nothing changed wrongly
        assert 0 <= order.paid <= order.total
        assert all(0 <= line.returned <= line.quantity for line in order.lines)
        refunds = -sum(p.amount for p in o.payments_of(order) if p.kind == "refund")
        receipts = sum(p.amount for p in o.payments_of(order) if p.kind != "refund")
        assert refunds <= receipts
        assert order.balance_due == order.total - order.returned_value - order.paid
    problems = check_ledgers()
    assert problems["payments"] == [] and problems["stock"] == []


def test_two_clerks_paying_the_last_500_leave_one_payment(app, committed_db):
    warehouse = make_warehouse()
    customer = make_customer()
    product = make_stocked_product(warehouse, 5, sale_price=100000)
    order = make_order(customer, warehouse=warehouse, actor=customer.owner,
                       lines=[{"product": product, "quantity": 1}])
    clerks = [make_user(["finance"]) for _ in range(2)]
    o.receive_payment(order, amount=50000, method="cash", actor=clerks[0], token=new_token())
    _db.session.commit()
    ids = [c.id for c in clerks]
    order_id = order.id
    paid, refused = [], []

    def clerk(user_id):
        begin_write()
        me = _db.session.get(User, user_id)
        target = _db.session.get(o.Order, order_id)
        try:
            o.receive_payment(target, amount=50000, method="wechat", actor=me, token=new_token())
        except Conflict:
            refused.append(user_id)
            return
        _db.session.commit()
        paid.append(user_id)

    errors = race(clerk, ids, app=app, timeout=30)
    assert errors == [] and (len(paid), len(refused)) == (1, 1)
    _db.session.rollback()
    assert _db.session.scalar(select(func.count(o.Payment.id)).where(
        o.Payment.order_id == order_id)) == 2
    assert _db.session.get(o.Order, order_id).paid == 100000
    assert check_ledgers()["payments"] == []
    assert inv.quantity_in(inv.location_of(warehouse), product) == 4
