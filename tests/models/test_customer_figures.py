"""A customer's lifetime figures (sales, collected, COGS, gross margin, last purchase) and the
nightly RFM scores, against numbers worked out by hand; the job is idempotent, drops a customer
whose orders were all cancelled, and two runs at once both succeed."""
from datetime import timedelta

from sqlalchemy import func, select

import jobs
from jobs import customers as job_customers
from models import order_taking, orders as o
from models.base import new_token, utcnow
from models.customers import CustomerRfm
from models.orders.figures import score_rfm
from tests.factories import (company_today, make_customer, make_stocked_product, make_user,
                             make_warehouse)
from tests.races import race


def sell(shop, customer, quantity, unit_price, *, at=None, held=0):
    """A deal credited to the marketer, its prices typed in by the manager (whose authority
    has no cap: price authority is tests/models/test_pricing.py's)."""
    return order_taking.create_order(
        customer, lines=[{"product": shop.product, "quantity": quantity,
                          "unit_price": unit_price, "held": held}],
        actor=shop.manager, marketer=shop.marketer, token=new_token(),
        warehouse=shop.warehouse, channel="store", now=at)


def pay(shop, order, amount):
    return o.receive_payment(order, amount=amount, method="cash", actor=shop.finance,
                             token=new_token())


def test_lifetime_figures_by_hand(db, shop):
    """王大爷 (the product costs ¥60 a box):
    - o1: 2 × ¥198 taken home, paid ¥396; one box comes back and is scrapped (−¥198), ¥198
      refunded;
    - o2: 3 × ¥100, one left in custody, ¥100 paid; the held box is returned to stock (−¥100);
    - o3: 1 × ¥198 left in custody, then cancelled (counts nowhere).
    By hand: sales = (39600 − 19800) + (30000 − 10000) = 39800; collected = 39600 − 19800 +
    10000 = 29800; COGS = o1 2 × 6000 (the scrapped box stays a cost) + o2 3 × 6000 − 6000
    back on the shelf = 24000; margin = 39800 − 24000 = 15800; 2 orders."""
    customer, manager = shop.customer, shop.manager
    first = sell(shop, customer, 2, 19800, at=utcnow() - timedelta(days=30))
    pay(shop, first, 39600)
    back = order_taking.return_goods(first, first.lines[0], quantity=1, reason="破损",
                                     approver=manager, actor=manager, token=new_token(),
                                     disposition="scrap")
    o.refund(first, amount=19800, method="cash", reason="退货退款", actor=shop.finance,
             approver=manager, token=new_token(), order_return=back)
    second = sell(shop, customer, 3, 10000, held=1, at=utcnow() - timedelta(days=3))
    pay(shop, second, 10000)
    order_taking.return_goods(second, second.lines[0], quantity=1, reason="不要了",
                              approver=manager, actor=manager, token=new_token())
    third = sell(shop, customer, 1, 19800, held=1)
    order_taking.cancel_order(third, reason="顾客反悔", actor=manager)

    figures = o.customer_figures(customer)
    assert {k: figures[k] for k in ("sales", "collected", "cogs", "margin", "orders")} == {
        "sales": 39800, "collected": 29800, "cogs": 24000, "margin": 15800, "orders": 2}
    assert figures["last_purchase_at"] == second.created_at
    assert figures["rfm"] is None  # not scored until the nightly job runs
    assert o.cogs_by_customer([customer.id]) == {customer.id: 24000}
    # A customer who never bought: zeros, no last purchase.
    nobody = o.customer_figures(make_customer(shop.marketer, name="没买过"))
    assert (nobody["sales"], nobody["collected"], nobody["cogs"], nobody["orders"],
            nobody["last_purchase_at"]) == (0, 0, 0, 0, None)


#: Ten buyers: (days since the last order, number of orders, price of each order in fen).
BUYERS = {"甲": (1, 1, 50000), "乙": (2, 2, 1000), "丙": (3, 3, 3000), "丁": (4, 1, 20000),
          "戊": (5, 2, 40000), "己": (6, 4, 1000), "庚": (7, 1, 500), "辛": (8, 5, 9000),
          "壬": (9, 2, 3000), "癸": (10, 1, 70000)}
# By hand, n = 10, score = 1 + ⌊5 × (rank − 1) / 10⌋ with rank 1 for the lowest value:
# recency, oldest first: 癸 壬 | 辛 庚 | 己 戊 | 丁 丙 | 乙 甲 → R1 … R5, two each;
# frequency: four with 1 order share rank 1 (F1); three with 2 share rank 5 (1 + 20 // 10 = F3);
#   丙 (3) rank 8 → F4; 己 (4) rank 9 → F5; 辛 (5) rank 10 → F5;
# monetary (orders × price): 庚 500, 乙 2000 | 己 4000, 壬 6000 | 丙 9000, 丁 20000 |
#   辛 45000, 甲 50000 | 癸 70000, 戊 80000 → M1 … M5.
EXPECTED = {"甲": "R5 F1 M4", "乙": "R5 F3 M1", "丙": "R4 F4 M3", "丁": "R4 F1 M3",
            "戊": "R3 F3 M5", "己": "R3 F5 M2", "庚": "R2 F1 M1", "辛": "R2 F5 M4",
            "壬": "R1 F3 M2", "癸": "R1 F1 M5"}


def buy_the_ten(shop):
    """The ten buyers of BUYERS, a customer who never bought and one whose only order was
    cancelled: {name: customer}."""
    now = utcnow()
    people = {}
    for name, (days, count, price) in BUYERS.items():
        customer = people[name] = make_customer(shop.marketer, name=name)
        for n in range(count):  # the earlier orders a month or more before the last
            sell(shop, customer, 1, price,
                 at=now - timedelta(days=days + (30 * (count - 1 - n))))
    people["没买过"] = make_customer(shop.marketer, name="没买过")
    people["退单"] = make_customer(shop.marketer, name="退单")
    order_taking.cancel_order(sell(shop, people["退单"], 1, 99900, held=1), reason="反悔",
                              actor=shop.manager)
    return people


def labels(people):
    rows = {row.customer_id: row for row in db_rows()}
    return {name: rows[c.id].label for name, c in people.items() if c.id in rows}


def db_rows():
    from extensions import db
    return db.session.scalars(select(CustomerRfm)).all()


def test_rfm_quintiles_by_hand_and_the_job_is_idempotent(db, shop):
    people = buy_the_ten(shop)
    assert job_customers.rfm(company_today()) == 10
    assert labels(people) == EXPECTED  # neither the non-buyer nor the cancelled order scored
    row = db.session.get(CustomerRfm, people["辛"].id)
    assert (row.orders, row.sales_fen) == (5, 45000)
    # Run again: the same scores, no row twice.
    assert job_customers.rfm(company_today()) == 10
    assert labels(people) == EXPECTED
    assert db.session.scalar(select(func.count()).select_from(CustomerRfm)) == 10


def test_a_rerun_writes_only_the_scores_that_changed(db, shop):
    """#29: a night's re-run rewrites no unchanged row (its computed_at says since when the
    scores stand); a customer who bought again is rewritten, with the new time."""
    steady, buyer = make_customer(shop.marketer, name="老客"), make_customer(shop.marketer,
                                                                            name="回头客")
    sell(shop, steady, 2, 50000, at=utcnow() - timedelta(days=40))
    sell(shop, buyer, 1, 10000, at=utcnow() - timedelta(days=30))
    first = utcnow() - timedelta(hours=2)
    assert score_rfm(first) == 2
    assert score_rfm(first + timedelta(hours=1)) == 2  # nothing changed: nothing written
    db.session.expire_all()
    assert {r.customer_id: r.computed_at for r in db_rows()} == {steady.id: first,
                                                                 buyer.id: first}
    sell(shop, buyer, 1, 10000)  # still the less spent: 老客's ranks stay
    later = utcnow()
    assert score_rfm(later) == 2
    rows = {r.customer_id: r for r in db_rows()}
    assert rows[steady.id].computed_at == first and rows[buyer.id].computed_at == later
    assert (rows[buyer.id].orders, rows[buyer.id].sales_fen) == (2, 20000)


def test_a_customer_whose_orders_were_all_cancelled_loses_the_score(db, shop):
    customer = make_customer(shop.marketer, name="存货客")
    order = sell(shop, customer, 1, 19800, held=1)
    assert job_customers.rfm(company_today()) == 1
    assert db.session.get(CustomerRfm, customer.id).label == "R1 F1 M1"
    order_taking.cancel_order(order, reason="反悔", actor=shop.manager)
    assert job_customers.rfm(company_today()) == 0
    assert db.session.get(CustomerRfm, customer.id) is None


def test_two_rfm_runs_at_once_both_finish_with_one_row_each(app, committed_db):
    db = committed_db
    warehouse = make_warehouse("总仓")
    marketer = make_user(["marketer"])
    product = make_stocked_product(warehouse, 100)
    for n in range(12):
        customer = make_customer(marketer, name=f"顾客{n}")
        for _k in range(n % 3 + 1):
            order_taking.create_order(customer, lines=[{"product": product, "quantity": 1}],
                                      actor=marketer, token=new_token(), warehouse=warehouse,
                                      channel="store")
    db.session.commit()
    results = []
    assert race(lambda _n: results.append(jobs.run_job(app, "rfm", force=True)), range(2)) \
        == []
    assert results == [12, 12]
    assert db.session.scalar(select(func.count()).select_from(CustomerRfm)) == 12
