"""Speed of orders and payments (issue 7), on its own SQLite database built by the migrations.

    .venv/bin/python bench/orders.py [--orders 100000] [--payments 300000] [--measured 200]

Builds the customers of bench/customers.py (one per five orders, 100 marketers in 10
departments), 100 products and N orders of 1–2 lines (goods left in custody, so no stock moves)
with M payments (deposits and balance payments, never above the total); about a third of the
orders still owe money, due dates spread over the past 200 days and the next 30. Proves the
ledgers with check_ledgers(), then measures in-process (p95, ms): recording a payment
(`orders.receive_payment` in a write transaction, with its commit, on --measured orders:
`payment_p95_ms`) and a department's arrears list, both as the page a manager gets from the test
client (`arrears_list_p95_ms`) and as the plain query (`arrears_query_p95_ms`). Ends with one
JSON line of the figures.
"""
import argparse
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import func, insert, select, update  # noqa: E402

from app import create_app  # noqa: E402
from customers import build, signed_in_client  # noqa: E402  (bench/customers.py)
from extensions import db  # noqa: E402
from formatting import company_zone, local_day  # noqa: E402
from models import accounts, customers as c, inventory as inv, orders as o  # noqa: E402
from models.base import begin_write, end_reads, utcnow  # noqa: E402
from models.ledgers import check_ledgers  # noqa: E402

CHUNK = 5000
OWING_SHARE = 0.35
#: Cancelled orders are left out: a cancelled deal's goods go back through custody, which this
#: bench does not build (the arrears and payments it measures never see them anyway).
CANCELLED_SHARE = 0
METHODS = ("cash", "wechat", "wechat", "alipay", "card", "transfer")
PRODUCT_NAMES = ("灵芝孢子粉", "深海鱼油", "氨基酸口服液", "钙片", "蛋白粉", "螺旋藻", "蜂胶",
                 "葡萄籽", "维生素", "益生菌")


def insert_chunks(table, rows):
    for start in range(0, len(rows), CHUNK):
        db.session.execute(insert(table), rows[start:start + CHUNK])


def split(amount, parts, rng):
    """`amount` (whole yuan) as `parts` positive whole-yuan amounts, in fen."""
    cuts = sorted(rng.sample(range(1, amount), parts - 1)) if parts > 1 else []
    edges = [0, *cuts, amount]
    return [(b - a) * 100 for a, b in zip(edges, edges[1:])]


def build_orders(n_orders, n_payments, seed=17):
    """Customers, products, a finance clerk, then the orders, lines and payments in bulk."""
    manager, _marketer, _phones = build(max(1000, n_orders // 5))
    return add_orders(manager, n_orders, n_payments, seed)


def add_orders(manager, n_orders, n_payments, seed=17, days=230):
    """Products, a finance clerk, then N orders over the last `days` days for the customers
    there are, their lines and M payments, in bulk. Returns (orders, payments)."""
    rng = random.Random(seed)
    finance = accounts.create_user(username="cashier", display_name="财务", password="bench2026x",
                                   roles=["finance"], actor=None)
    products = []
    for i in range(100):
        name = f"{PRODUCT_NAMES[i % 10]}{i // 10 + 1}号"
        products.append(inv.create_product(
            {"sku": f"P{i:03d}", "name": name, "unit": "盒", "for_sale": True,
             "sale_price": rng.randrange(98, 2980) * 100, "standard_cost": 3000},
            actor=manager))
    db.session.commit()
    prices = [(p.id, p.sale_price) for p in products]
    warehouse_id = db.session.scalar(select(inv.Warehouse.id).where(inv.Warehouse.code == "MAIN"))
    marketers = dict(db.session.execute(
        select(accounts.User.id, accounts.User.department_id).where(
            accounts.User.username.like("m%"))).all())
    marketer_ids = sorted(marketers)
    customers = db.session.execute(select(c.Customer.id, c.Customer.owner_id)).all()
    zone = company_zone()
    now = utcnow()

    order_rows, line_rows, plans = [], [], []
    for order_id in range(1, n_orders + 1):
        customer_id, owner_id = rng.choice(customers)
        marketer_id = owner_id or rng.choice(marketer_ids)
        created = now - timedelta(days=rng.uniform(0, days))
        total = 0
        for _line in range(rng.choice((1, 1, 2))):
            product_id, price = rng.choice(prices)
            quantity = rng.choice((1, 1, 2, 3, 6))
            discount = min(rng.choice((0, 0, 0, 50, 100, 200)) * 100, quantity * price // 5)
            total += quantity * price - discount
            line_rows.append({"order_id": order_id, "product_id": product_id, "package_id": None,
                              "quantity": quantity, "unit_price": price, "discount": discount,
                              "taken": quantity, "held": 0, "returned": 0})
        cancelled = rng.random() < CANCELLED_SHARE
        order_rows.append({
            "id": order_id, "number": f"XS{local_day(created, zone):%Y%m%d}-{order_id:05d}",
            "customer_id": customer_id, "marketer_id": marketer_id,
            "department_id": marketers[marketer_id], "channel": rng.choice(("store", "phone")),
            "event_id": None, "check_in_id": None, "warehouse_id": warehouse_id,
            "status": "cancelled" if cancelled else "open", "total": total,
            "returned_value": 0, "paid": 0, "balance_due": 0 if cancelled else total,
            "due_date": local_day(created, zone) + timedelta(days=30), "note": "",
            "created_by_id": marketer_id, "created_at": created,
            "cancelled_by_id": manager.id if cancelled else None,
            "cancelled_at": created + timedelta(hours=1) if cancelled else None,
            "cancel_reason": "顾客反悔" if cancelled else "", "token": None})
        plans.append(not cancelled)

    # M payments over the open orders (about Poisson(M/N) each); an order that got none owes.
    counts = [0] * n_orders
    open_indexes = [i for i, is_open in enumerate(plans) if is_open]
    for _payment in range(n_payments):
        counts[rng.choice(open_indexes)] += 1
    payment_rows = []
    for index in open_indexes:
        row, parts = order_rows[index], counts[index]
        if not parts:
            continue
        total_yuan = row["total"] // 100
        owing = rng.random() < OWING_SHARE
        paid_yuan = max(parts, int(total_yuan * rng.uniform(0.1, 0.9))) if owing else total_yuan
        if paid_yuan >= total_yuan:
            paid_yuan, owing = total_yuan, False
        amounts = split(paid_yuan, parts, rng)
        paid = sum(amounts)
        if not owing:  # the last payment settles the odd fen too
            amounts[-1] += row["total"] - paid
            paid = row["total"]
        row["paid"], row["balance_due"] = paid, row["total"] - paid
        latest = min(now - timedelta(minutes=5), row["created_at"] + timedelta(days=60))
        span = (latest - row["created_at"]).total_seconds()
        moments = sorted(row["created_at"] + timedelta(seconds=rng.uniform(0, span))
                         for _amount in amounts)
        for number, (amount, at) in enumerate(zip(amounts, moments)):
            kind = ("full" if parts == 1 and not owing else "deposit") if number == 0 \
                else "balance"
            cashier = finance.id if rng.random() < 0.3 else row["marketer_id"]
            payment_rows.append({
                "order_id": row["id"], "kind": kind, "method": rng.choice(METHODS),
                "amount": amount, "reference": "", "reason": "", "cashier_id": cashier,
                "approved_by_id": None, "at": at, "recorded_at": at, "reverses_id": None,
                "return_id": None, "token": None})
    insert_chunks(o.Order.__table__, order_rows)
    insert_chunks(o.OrderLine.__table__, line_rows)
    insert_chunks(o.Payment.__table__, payment_rows)
    goods_taken_home(manager, order_rows, line_rows, warehouse_id)
    db.session.commit()
    return len(order_rows), len(payment_rows)


def goods_taken_home(manager, order_rows, line_rows, warehouse_id):
    """The goods of every line went home with the customer: a receipt of enough stock, a
    sale-issue move per line, and the balances less what left — so check-ledgers agrees with the
    orders."""
    orders = {row["id"]: row for row in order_rows}
    warehouse = db.session.get(inv.Warehouse, warehouse_id)
    taken = {}
    for line in line_rows:
        if orders[line["order_id"]]["status"] == "open":
            taken[line["product_id"]] = taken.get(line["product_id"], 0) + line["quantity"]
    first = min(row["created_at"] for row in order_rows) - timedelta(days=1)
    batches = {}
    for product_id in {line["product_id"] for line in line_rows}:
        product = db.session.get(inv.Product, product_id)
        wanted = taken.get(product_id, 0) + 100
        while wanted > 0:
            quantity = min(wanted, inv.stock.MAX_QUANTITY)
            move = inv.receive(product=product, quantity=quantity, warehouse=warehouse,
                               actor=manager, batch_number="B2026", unit_cost=3000, now=first)
            batches[product_id] = move.batch_id
            wanted -= quantity
    db.session.flush()
    source, target = inv.location_of(warehouse).id, inv.outside("customer").id
    next_id = (db.session.scalar(select(func.max(inv.StockMove.id))) or 0) + 1
    moves = []
    for line in line_rows:
        order = orders[line["order_id"]]
        move = {"id": next_id, "product_id": line["product_id"],
                "batch_id": batches[line["product_id"]], "from_location_id": source,
                "to_location_id": target, "quantity": line["quantity"], "unit_cost": 3000,
                "reason": "sale_issue", "document_type": "orders",
                "document_id": order["id"], "customer_id": order["customer_id"],
                "event_id": None, "note": order["number"], "reverses_id": None,
                "actor_id": order["marketer_id"], "at": order["created_at"]}
        moves.append(move)
        next_id += 1
    insert_chunks(inv.StockMove.__table__, moves)
    for product_id, quantity in taken.items():
        db.session.execute(update(inv.StockQuant).where(
            inv.StockQuant.location_id == source, inv.StockQuant.product_id == product_id,
            inv.StockQuant.batch_id == batches[product_id]).values(
            quantity=inv.StockQuant.quantity - quantity))


def p95(values):
    return round(statistics.quantiles(values, n=20)[-1], 1)


def measure_payments(app, samples=200, seed=5):
    """`receive_payment` on random orders with money due: BEGIN IMMEDIATE, load, pay, commit."""
    rng = random.Random(seed)
    timings = []
    with app.app_context():
        due = db.session.execute(select(o.Order.id, o.Order.balance_due).where(
            o.Order.status == "open", o.Order.balance_due > 0)).all()
        db.session.rollback()
        for order_id, balance in rng.sample(due, samples):
            amount = max(1, balance // rng.choice((1, 2, 3))) // 100 * 100 or balance
            db.session.remove()  # as a request: the user read first, then BEGIN IMMEDIATE
            finance = accounts.find_user_by_username("cashier")
            finance.has_role("finance")
            end_reads()
            started = time.perf_counter()
            begin_write()
            order = db.session.get(o.Order, order_id)
            o.receive_payment(order, amount=amount, method="wechat", actor=finance,
                              token=str(uuid.uuid4()))
            db.session.commit()
            timings.append((time.perf_counter() - started) * 1000)
    return p95(timings)


def measure_arrears(app, department_id, samples=30):
    """The department's arrears page as the manager sees it, then the query alone."""
    client = signed_in_client(app, "boss")
    client.get("/orders/arrears", query_string={"department_id": department_id})  # warm up
    page_ms = []
    for _sample in range(samples):
        started = time.perf_counter()
        response = client.get("/orders/arrears", query_string={"department_id": department_id})
        page_ms.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    query_ms = []
    with app.app_context():
        today = local_day(utcnow())
        for _sample in range(samples):
            db.session.remove()  # a fresh session each time, as a request gets
            manager = accounts.find_user_by_username("boss")
            manager.has_role("manager")
            started = time.perf_counter()
            rows, _totals = o.arrears(manager, today, department_id=department_id)
            query_ms.append((time.perf_counter() - started) * 1000)
            db.session.rollback()
    return p95(page_ms), p95(query_ms), len(rows)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=100000)
    parser.add_argument("--payments", type=int, default=300000)
    parser.add_argument("--measured", type=int, default=200, help="payments measured")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-orders-"))
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'bench.db'}",
                      "INSTANCE_DIR": str(folder), "SECRET_KEY": "bench",
                      "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    started = time.perf_counter()
    with app.app_context():
        upgrade()
        n_orders, n_payments = build_orders(args.orders, args.payments)
        build_s = round(time.perf_counter() - started, 1)
        started = time.perf_counter()
        problems = check_ledgers()
        check_ledgers_s = round(time.perf_counter() - started, 1)
        assert problems["payments"] == [], problems["payments"][:5]
        assert not any(problems.values()), {k: v[:5] for k, v in problems.items()}
        department_id = db.session.scalar(select(accounts.Department.id).where(
            accounts.Department.name == "销售1部"))
        db.session.rollback()
    page_p95, query_p95, rows = measure_arrears(app, department_id)
    payment_p95 = measure_payments(app, args.measured)
    print(json.dumps({"orders": n_orders, "payments": n_payments, "build_s": build_s,
                      "check_ledgers_s": check_ledgers_s, "arrears_rows": rows,
                      "payment_p95_ms": payment_p95, "arrears_list_p95_ms": page_p95,
                      "arrears_query_p95_ms": query_p95}))


if __name__ == "__main__":
    main()
