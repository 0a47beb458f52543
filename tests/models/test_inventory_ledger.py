"""The stock ledger under random sequences of operations (hypothesis), and under concurrency:
stock never goes below zero and always equals the sum of its moves."""
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import func, select

from extensions import db as _db
from models import inventory as inv
from models.accounts import User
from models.base import Conflict, InvalidInput, begin_write
from models.ledgers import check_ledgers
from tests.factories import make_product, make_user, make_warehouse
from tests.races import race

WAREHOUSES = 3

operations = st.lists(st.one_of(
    st.tuples(st.just("receive"), st.integers(0, WAREHOUSES - 1), st.integers(1, 20),
              st.sampled_from(["A", "B", "C"])),
    st.tuples(st.just("issue"), st.integers(0, WAREHOUSES - 1), st.integers(1, 25)),
    st.tuples(st.just("transfer"), st.integers(0, WAREHOUSES - 1),
              st.integers(0, WAREHOUSES - 1), st.integers(1, 25)),
    st.tuples(st.just("scrap"), st.integers(0, WAREHOUSES - 1), st.integers(1, 10)),
    st.tuples(st.just("reverse"), st.integers(0, 200)),
), min_size=1, max_size=25)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=operations)
def test_random_operations_never_go_negative_and_always_sum_up(db, steps):
    clerk = make_user(["warehouse"])
    product = make_product(actor=clerk)
    houses = [make_warehouse(actor=clerk) for _ in range(WAREHOUSES)]
    internal = {inv.location_of(h).id: i for i, h in enumerate(houses)}
    expected = [0] * WAREHOUSES
    made = []  # moves that may be reversed

    def record(moves):
        for move in moves:
            made.append(move)
            source, target = internal.get(move.from_location_id), internal.get(move.to_location_id)
            if source is not None:
                expected[source] -= move.quantity
            if target is not None:
                expected[target] += move.quantity

    for step in steps:
        kind = step[0]
        try:
            if kind == "receive":
                record([inv.receive(product=product, quantity=step[2], warehouse=houses[step[1]],
                                    actor=clerk, batch_number=step[3])])
            elif kind == "issue":
                record(inv.issue(product=product, quantity=step[2], warehouse=houses[step[1]],
                                 reason="sale_issue", actor=clerk))
            elif kind == "transfer":
                record(inv.transfer(product=product, quantity=step[3],
                                    from_warehouse=houses[step[1]], to_warehouse=houses[step[2]],
                                    actor=clerk))
            elif kind == "scrap":
                record(inv.scrap(product=product, quantity=step[2], warehouse=houses[step[1]],
                                 actor=clerk))
            elif kind == "reverse" and made:
                record([inv.reverse(made[step[1] % len(made)], actor=clerk)])
        except (Conflict, InvalidInput):
            pass  # refused: nothing may have changed, which the checks below prove
        on_hand = [inv.quantity_in(inv.location_of(h), product) for h in houses]
        assert on_hand == expected
        assert min(on_hand) >= 0
        quants = _db.session.scalars(select(inv.StockQuant.quantity).where(
            inv.StockQuant.product_id == product.id)).all()
        assert all(q >= 0 for q in quants)
    assert check_ledgers()["stock"] == []


def test_twenty_tablets_issuing_from_ten_in_stock_issue_exactly_ten(app, committed_db):
    """20 threads each issue one unit of a batch holding 10, committing for real. On PostgreSQL
    the balance row is locked (SELECT … FOR UPDATE); on SQLite writers are serialised."""
    clerk = make_user(["warehouse"])
    product = make_product(actor=clerk)
    warehouse = make_warehouse(actor=clerk)
    inv.receive(product=product, quantity=10, warehouse=warehouse, actor=clerk,
                batch_number="B10")
    _db.session.commit()
    ids = (clerk.id, product.id, warehouse.id)
    issued, refused = [], []

    def tablet(_n):
        begin_write()
        user, item, house = (_db.session.get(model, pk) for model, pk in zip(
            (User, inv.Product, inv.Warehouse), ids))
        try:
            moves = inv.issue(product=item, quantity=1, warehouse=house, reason="sale_issue",
                              actor=user)
        except Conflict:
            refused.append(1)
            return
        _db.session.commit()
        issued.append(moves[0].id)

    assert race(tablet, range(20), app=app) == []
    assert (len(issued), len(refused)) == (10, 10)
    _db.session.rollback()  # a fresh snapshot: what the tablets committed
    assert inv.quantity_in(inv.location_of(_db.session.get(inv.Warehouse, ids[2])),
                           _db.session.get(inv.Product, ids[1])) == 0
    assert _db.session.scalar(select(func.count(inv.StockMove.id)).where(
        inv.StockMove.reason == "sale_issue")) == 10
    assert check_ledgers()["stock"] == []
