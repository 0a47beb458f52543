"""Speed of the warehouse (issue 6), on its own SQLite database built by the migrations.

    .venv/bin/python bench/inventory.py [--moves 1000000] [--products 2000] [--issues 200]

Builds 5 warehouses (the migration's MAIN, the busiest, and four more), N products of 6 batches
each with staggered expiry dates (the oldest already expired), then M stock moves over the past
two years in bulk: receipts from the supplier, transfers out of MAIN, sale and gift issues to
customers taken first expiry first (expired batches skipped), scrap and count differences. The
balances (stock_quants) are summed while the moves are made, and check_ledgers() proves them.
Then measures in-process (p95, ms): stock on hand for the busiest warehouse
(`inventory.stock_on_hand`, a fresh session each time: `stock_on_hand_p95_ms`; then its page
from the test client, as the clerk gets it: `stock_on_hand_page_p95_ms`) and an issue of 1-3
units of a product in stock there (BEGIN IMMEDIATE, load, `inventory.issue`, commit:
`issue_p95_ms`). Ends with one JSON line of the figures.
"""
import argparse
import gc
import bisect
import itertools
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import func, insert, select  # noqa: E402

from app import create_app  # noqa: E402
from customers import signed_in_client  # noqa: E402  (bench/customers.py)
from extensions import db  # noqa: E402
from models import accounts, inventory as inv  # noqa: E402
from models.base import begin_write, end_reads, utcnow  # noqa: E402
from models.ledgers import check_ledgers  # noqa: E402

CHUNK = 10000
BATCHES = 6
DAYS = 720
PRODUCT_NAMES = ("灵芝孢子粉", "深海鱼油", "氨基酸口服液", "钙片", "蛋白粉", "螺旋藻", "蜂胶",
                 "葡萄籽", "维生素", "益生菌")
#: Share of receipts and of goods going out, per warehouse (MAIN first): MAIN is the busiest.
RECEIPT_WEIGHTS = (0.6, 0.1, 0.1, 0.1, 0.1)
ISSUE_WEIGHTS = (0.4, 0.15, 0.15, 0.15, 0.15)
#: What a move is, cumulated: receipt, transfer, sale issue, gift issue, scrap, count.
KINDS = (("receipt", 0.08), ("transfer", 0.15), ("sale_issue", 0.93), ("gift_issue", 0.97),
         ("scrap", 0.99), ("count_adjustment", 1.0))


def insert_chunks(table, rows):
    for start in range(0, len(rows), CHUNK):
        db.session.execute(insert(table), rows[start:start + CHUNK])


def build_catalogue(n_products, rng):
    """A warehouse clerk, 4 more warehouses, the products (through the API), their batches
    (in bulk). Returns (user, warehouses, products [(id, cost)], batches {product id:
    [(batch id, expiry, cost)] first expiry first})."""
    clerk = accounts.create_user(username="stock", display_name="仓管", password="bench2026x",
                                 roles=["warehouse"], actor=None)
    main = db.session.scalar(select(inv.Warehouse).where(inv.Warehouse.code == "MAIN"))
    warehouses = [main] + [inv.create_warehouse({"code": f"W{i}", "name": f"{i}号仓",
                                                 "kind": "store" if i > 2 else "venue"},
                                                actor=clerk) for i in range(1, 5)]
    products = []
    for i in range(n_products):
        cost = rng.randrange(20, 900) * 100
        product = inv.create_product(
            {"sku": f"P{i:05d}", "name": f"{PRODUCT_NAMES[i % 10]}{i // 10 + 1}号", "unit": "盒",
             "for_sale": True, "is_gift": i % 7 == 0, "sale_price": cost * 3,
             "standard_cost": cost, "shelf_life_days": 720, "low_stock_threshold": 20,
             "category": PRODUCT_NAMES[i % 10]}, actor=clerk)
        products.append((product.id, cost))
    db.session.commit()
    # Batch k arrives in the k-th sixth of the two years and keeps 16 months: the oldest
    # expired four months ago, the newest expires in 16 months.
    start = utcnow().date() - timedelta(days=DAYS)
    now = utcnow()
    rows = []
    for product_id, cost in products:
        offset = rng.randrange(0, 30)
        for k in range(BATCHES):
            expiry = start + timedelta(days=(k + 1) * DAYS // BATCHES + 480 - offset)
            rows.append({"product_id": product_id, "number": f"L{expiry:%Y%m%d}",
                         "produced_on": expiry - timedelta(days=720), "expiry_date": expiry,
                         "unit_cost": cost, "created_at": now})
    insert_chunks(inv.Batch.__table__, rows)
    batches = {}
    for batch_id, product_id, expiry, cost in db.session.execute(
            select(inv.Batch.id, inv.Batch.product_id, inv.Batch.expiry_date,
                   inv.Batch.unit_cost).order_by(inv.Batch.expiry_date, inv.Batch.id)):
        batches.setdefault(product_id, []).append((batch_id, expiry, cost))
    db.session.commit()
    return clerk, warehouses, products, batches


class Ledger:
    """Makes the moves and sums the balances as it goes, inserting in chunks."""

    def __init__(self, actor_id, batches, outside):
        self.actor_id, self.batches, self.outside = actor_id, batches, outside
        #: (location, product) → {batch index: quantity > 0}.
        self.stock = {}
        #: (location, product, batch id) → balance, every one ever touched (zeros kept).
        self.quants = {}
        self.rows, self.count = [], 0

    def move(self, product_id, k, source, target, quantity, reason, at):
        batch_id, _expiry, cost = self.batches[product_id][k]
        self.rows.append({
            "product_id": product_id, "batch_id": batch_id, "from_location_id": source,
            "to_location_id": target, "quantity": quantity, "unit_cost": cost, "reason": reason,
            "document_type": "", "document_id": None, "customer_id": None, "event_id": None,
            "note": "", "reverses_id": None, "actor_id": self.actor_id, "at": at})
        self.count += 1
        for location, sign in ((source, -1), (target, 1)):
            if location in self.outside:
                continue
            key = (location, product_id, batch_id)
            self.quants[key] = self.quants.get(key, 0) + sign * quantity
            held = self.stock.setdefault((location, product_id), {})
            left = held.get(k, 0) + sign * quantity
            if left:
                held[k] = left
            else:
                del held[k]
        if len(self.rows) == CHUNK:
            self.flush()

    def take(self, product_id, quantity, source, target, reason, at, today, skip_expired):
        """First expiry first, several batches when one is not enough; as much as there is.
        Returns the quantity taken."""
        held = self.stock.get((source, product_id), {})
        wanted = quantity
        for k in sorted(held):
            if skip_expired and self.batches[product_id][k][1] < today:
                continue
            share = min(wanted, held[k])
            self.move(product_id, k, source, target, share, reason, at)
            wanted -= share
            if not wanted:
                break
        return quantity - wanted

    def flush(self):
        if self.rows:
            db.session.execute(insert(inv.StockMove.__table__), self.rows)
            self.rows = []


def build_moves(n_moves, clerk, warehouses, products, batches, rng):
    """n_moves moves over the past two years, then the balances they sum to."""
    outside = {kind: inv.outside(kind).id for kind in ("supplier", "customer", "scrap",
                                                       "adjustment")}
    stock = [inv.location_of(w).id for w in warehouses]
    ledger = Ledger(clerk.id, batches, set(outside.values()))
    # Some products sell far more than others.
    ids = [p for p, _cost in products]
    rng.shuffle(ids)
    popular = list(itertools.accumulate(1 / (rank + 20) for rank in range(len(ids))))
    receipt_to = list(itertools.accumulate(RECEIPT_WEIGHTS))
    issue_from = list(itertools.accumulate(ISSUE_WEIGHTS))
    thresholds = [share for _kind, share in KINDS]
    kinds = [kind for kind, _share in KINDS]
    end = utcnow() - timedelta(hours=1)
    start = end - timedelta(days=DAYS)
    step = (end - start) / n_moves
    while ledger.count < n_moves:
        at = start + step * ledger.count
        today = at.date()
        stage = min(BATCHES - 1, int(ledger.count * BATCHES / n_moves))
        product_id = ids[bisect.bisect(popular, rng.random() * popular[-1])]
        kind = kinds[bisect.bisect(thresholds, rng.random())]
        here = stock[bisect.bisect(issue_from, rng.random())]
        taken = 1
        if kind == "transfer":
            if rng.random() < 0.8:
                source, target = stock[0], rng.choice(stock[1:])
            else:
                source, target = rng.choice(stock[1:]), stock[0]
            taken = ledger.take(product_id, rng.randint(5, 30), source, target, "transfer", at,
                                today, False)
        elif kind in ("sale_issue", "gift_issue"):
            quantity = rng.randint(1, 6) if kind == "sale_issue" else rng.randint(1, 2)
            taken = ledger.take(product_id, quantity, here, outside["customer"], kind, at,
                                today, True)
        elif kind == "scrap":
            taken = ledger.take(product_id, rng.randint(1, 5), here, outside["scrap"], "scrap",
                                at, today, False)
        elif kind == "count_adjustment":
            held = ledger.stock.get((here, product_id))
            if held and rng.random() < 0.6:
                k = rng.choice(list(held))
                ledger.move(product_id, k, here, outside["adjustment"],
                            min(held[k], rng.randint(1, 3)), kind, at)
            else:
                ledger.move(product_id, stage, outside["adjustment"], here, rng.randint(1, 3),
                            kind, at)
        if kind == "receipt":
            target = stock[bisect.bisect(receipt_to, rng.random())]
            ledger.move(product_id, stage, outside["supplier"], target, rng.randint(10, 60),
                        "receipt", at)
        elif not taken:  # nothing there to take: a small receipt there instead
            ledger.move(product_id, stage, outside["supplier"], here, rng.randint(5, 25),
                        "receipt", at)
    ledger.flush()
    insert_chunks(inv.StockQuant.__table__,
                  [{"location_id": location, "product_id": product, "batch_id": batch,
                    "quantity": quantity}
                   for (location, product, batch), quantity in ledger.quants.items()])
    db.session.commit()
    return ledger.count, len(ledger.quants)


def p95(values):
    return round(statistics.quantiles(values, n=20)[-1], 1)


def busiest_warehouse():
    """The warehouse with the most stock-on-hand rows."""
    return db.session.execute(
        select(inv.Location.warehouse_id, func.count())
        .join(inv.StockQuant, inv.StockQuant.location_id == inv.Location.id)
        .where(inv.Location.kind == "stock", inv.StockQuant.quantity != 0)
        .group_by(inv.Location.warehouse_id).order_by(func.count().desc())).first()[0]


def measure_stock_on_hand(app, warehouse_id, samples=30):
    timings = []
    with app.app_context():
        inv.stock_on_hand(db.session.get(inv.Warehouse, warehouse_id))  # warm up
        for _sample in range(samples + 1):
            db.session.remove()  # a fresh session each time, as a request gets
            warehouse = db.session.get(inv.Warehouse, warehouse_id)
            started = time.perf_counter()
            rows = inv.stock_on_hand(warehouse)
            timings.append((time.perf_counter() - started) * 1000)
        db.session.rollback()
    return p95(timings[1:]), len(rows)


def measure_page(app, warehouse_id, samples=30):
    """The stock-on-hand page of the warehouse as the clerk gets it from the test client."""
    client = signed_in_client(app, "stock")
    timings = []
    for _sample in range(samples + 1):
        started = time.perf_counter()
        response = client.get("/inventory/", query_string={"warehouse": warehouse_id})
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    return p95(timings[1:]), round(len(response.data) / 1e6, 1)


def measure_issues(app, warehouse_id, samples=200, seed=5):
    """`issue` of 1-3 units of products with that much in date on the warehouse's free stock:
    the clerk read first, then BEGIN IMMEDIATE, load, issue, commit."""
    rng = random.Random(seed)
    timings = []
    with app.app_context():
        today = utcnow().date() + timedelta(days=1)
        in_date = dict(db.session.execute(
            select(inv.StockQuant.product_id, func.sum(inv.StockQuant.quantity))
            .join(inv.Location, inv.StockQuant.location_id == inv.Location.id)
            .join(inv.Batch, inv.StockQuant.batch_id == inv.Batch.id)
            .where(inv.Location.warehouse_id == warehouse_id, inv.Location.kind == "stock",
                   inv.StockQuant.quantity > 0, inv.Batch.expiry_date >= today)
            .group_by(inv.StockQuant.product_id)).all())
        db.session.rollback()
        moves = 0
        for _sample in range(samples):
            quantity = rng.randint(1, 3)
            product_id = rng.choice([p for p, held in in_date.items() if held >= quantity])
            in_date[product_id] -= quantity
            db.session.remove()
            clerk = accounts.find_user_by_username("stock")
            clerk.has_role("warehouse")
            end_reads()
            started = time.perf_counter()
            begin_write()
            warehouse = db.session.get(inv.Warehouse, warehouse_id)
            product = db.session.get(inv.Product, product_id)
            moves += len(inv.issue(product=product, quantity=quantity, warehouse=warehouse,
                                   reason="sale_issue", actor=clerk))
            db.session.commit()
            timings.append((time.perf_counter() - started) * 1000)
    return p95(timings), moves


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--moves", type=int, default=1000000)
    parser.add_argument("--products", type=int, default=2000)
    parser.add_argument("--issues", type=int, default=200)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-inventory-"))
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'bench.db'}",
                      "INSTANCE_DIR": str(folder), "SECRET_KEY": "bench",
                      "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    rng = random.Random(23)
    started = time.perf_counter()
    with app.app_context():
        upgrade()
        clerk, warehouses, products, batches = build_catalogue(args.products, rng)
        n_moves, n_quants = build_moves(args.moves, clerk, warehouses, products, batches, rng)
        build_s = round(time.perf_counter() - started, 1)
        started = time.perf_counter()
        problems = check_ledgers()
        check_ledgers_s = round(time.perf_counter() - started, 1)
        assert problems["stock"] == [], problems["stock"][:5]
        assert not any(problems.values()), {k: v[:5] for k, v in problems.items()}
        warehouse_id = busiest_warehouse()
        db.session.rollback()
        db.session.remove()
    # The build's leftovers are not what a serving process carries: collect them once and
    # freeze what survives, so the measured calls pay only for their own garbage collection.
    del problems, clerk, warehouses, products, batches
    gc.collect()
    gc.freeze()
    on_hand_p95, on_hand_rows = measure_stock_on_hand(app, warehouse_id)
    page_p95, page_mb = measure_page(app, warehouse_id)
    issue_p95, issue_moves = measure_issues(app, warehouse_id, args.issues)
    with app.app_context():
        problems = check_ledgers()  # the measured issues kept the books right too
        assert not any(problems.values()), {k: v[:5] for k, v in problems.items()}
    print(json.dumps({"moves": n_moves, "quants": n_quants, "build_s": build_s,
                      "check_ledgers_s": check_ledgers_s, "stock_on_hand_rows": on_hand_rows,
                      "stock_on_hand_p95_ms": on_hand_p95, "stock_on_hand_page_p95_ms": page_p95,
                      "stock_on_hand_page_mb": page_mb, "issues": args.issues,
                      "issue_moves": issue_moves, "issue_p95_ms": issue_p95}))


if __name__ == "__main__":
    main()
