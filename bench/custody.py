"""Speed of custody (issue 10), on its own SQLite database built by the migrations.

    .venv/bin/python bench/custody.py [--customers 50000] [--entries 500000] [--pickups 200]
                                      [--views 200] [--finds 50]

Builds N customers owned by 100 marketers (bench/customers.py), 20 products for sale with two
in-date batches each, and M background custody entries over those customers, all of whom end up
holding goods: orders of 1–2 lines left wholly in custody (a custody-deposit stock move and a
deposit entry per line), their payments (most orders paid in full, some part-paid, a few
unpaid), and pickups of 1–3 units off the fully paid lines (a slip, a custody-pickup stock move
and a pickup entry each), no balance ever below zero. Inserted in bulk; the receipts go through
`inventory.receive` and the cached balances of the free and custody shelves are set to what the
moves say, so check_ledgers() is clean (stock, custody, payments, ...) before and after.
Measured in-process (p95, ms): a customer's custody page as the warehouse clerk gets it from the
test client, `custody.holdings` alone, finding a holder by phone tail (the search partial), a
pickup on a fully paid order (BEGIN IMMEDIATE, load the customer, `custody.pick_up`, commit)
for P different customers, and the same pickup as the clerk's form POST through the test client
for P/2 others; with the SQL statements each sends on average (a figure the machine's load does
not move). Ends with one JSON line of the figures (`custody_view_p95_ms`, `holdings_p95_ms`,
`find_holder_p95_ms`, `pickup_p95_ms`, `pickup_post_p95_ms`, and the statements of each).
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
from itsdangerous import URLSafeTimedSerializer  # noqa: E402
from sqlalchemy import event, func, insert, select, update  # noqa: E402

from app import create_app  # noqa: E402
from customers import build, signed_in_client  # noqa: E402  (bench/customers.py)
from extensions import db  # noqa: E402
from formatting import company_zone, local_day  # noqa: E402
from models import accounts, custody as cu, customers as c, inventory as inv  # noqa: E402
from models import orders as o  # noqa: E402
from models.base import begin_write, end_reads, utcnow  # noqa: E402
from models.ledgers import check_ledgers  # noqa: E402

CHUNK = 10000
#: Customers planned and inserted per round (keeps memory flat at any size).
ROUND = 5000
PRODUCT_NAMES = ("灵芝孢子粉", "深海鱼油", "氨基酸口服液", "钙片", "蛋白粉", "螺旋藻", "蜂胶",
                 "葡萄籽", "维生素", "益生菌")
METHODS = ("cash", "wechat", "wechat", "alipay", "card", "transfer")
#: An order's payment state: paid in full, part-paid (a deposit), unpaid.
FULL_SHARE, PART_SHARE = 0.7, 0.2


def insert_chunks(table, rows):
    for start in range(0, len(rows), CHUNK):
        db.session.execute(insert(table), rows[start:start + CHUNK])


def next_id(model):
    return (db.session.scalar(select(func.max(model.id))) or 0) + 1


def catalogue(manager, rng):
    """20 products for sale, each with two in-date batches (made now, stock received later)."""
    today = local_day(utcnow())
    batches = []
    for i in range(20):
        product = inv.create_product(
            {"sku": f"P{i:03d}", "name": f"{PRODUCT_NAMES[i % 10]}{i // 10 + 1}号", "unit": "盒",
             "for_sale": True, "sale_price": rng.randrange(98, 2980) * 100,
             "standard_cost": 3000 + i * 100}, actor=manager)
        for n, days in enumerate((rng.randrange(200, 500), rng.randrange(500, 900))):
            batch = inv.find_or_make_batch(product, f"L{i:02d}{n}", expiry_date=today +
                                           timedelta(days=days))
            batches.append((product, batch, days))
    db.session.commit()
    return batches


def entry_counts(n_customers, n_entries, rng):
    """Entries per customer: around the mean, at least one, summing to n_entries exactly."""
    if n_entries < n_customers:
        raise SystemExit("--entries must be at least --customers (every customer holds goods)")
    mean = n_entries / n_customers
    counts = [max(1, round(rng.uniform(0.3, 1.7) * mean)) for _ in range(n_customers)]
    diff = n_entries - sum(counts)
    while diff:
        i = rng.randrange(n_customers)
        if diff > 0:
            counts[i] += 1
            diff -= 1
        elif counts[i] > 1:
            counts[i] -= 1
            diff += 1
    return counts


class Background:
    """Plans and bulk-inserts the custody history, customer by customer, keeping the ids, the
    per-batch totals (for the shelves' balances) and the customers fit for a measured pickup."""

    def __init__(self, rng, batches, clerk, cashier, marketers, warehouse):
        self.rng, self.batches = rng, batches
        self.clerk_id, self.cashier_id = clerk.id, cashier.id
        self.marketers, self.marketer_ids = marketers, sorted(marketers)
        self.warehouse_id = warehouse.id
        self.stock_id = inv.location_of(warehouse).id
        self.custody_id = inv.location_of(warehouse, "custody").id
        self.customer_loc = inv.outside("customer").id
        self.order_id, self.line_id = next_id(o.Order), next_id(o.OrderLine)
        self.pickup_id = next_id(cu.CustodyPickup)
        self.deposited = {batch.id: 0 for _p, batch, _d in batches}
        self.picked = dict(self.deposited)
        self.collectable = []  # [(customer_id, [order line ids paid in full, still held])]
        self.zone = company_zone()
        self.now = utcnow()
        self.counts = {"orders": 0, "lines": 0, "payments": 0, "slips": 0, "entries": 0,
                       "moves": 0}
        self._clear()

    def _clear(self):
        self.rows = {"orders": [], "lines": [], "payments": [], "slips": [], "entries": [],
                     "moves": []}

    def customer(self, customer_id, owner_id, n_entries):
        rng = self.rng
        deposits = max(1, round(n_entries * rng.uniform(0.3, 0.6)))
        pickups = n_entries - deposits
        # Lines grouped into orders of one or two; each order paid in full, part or not at all.
        orders, left = [], deposits
        while left:
            size = min(left, rng.choice((1, 1, 2)))
            draw = rng.random()
            state = "full" if draw < FULL_SHARE else "part" if draw < FULL_SHARE + PART_SHARE \
                else "none"
            orders.append({"state": state, "lines": [
                {"batch": rng.choice(self.batches), "picks": [], "rest": 0}
                for _line in range(size)]})
            left -= size
        if pickups and not any(order["state"] == "full" for order in orders):
            orders[0]["state"] = "full"
        paid_lines = [line for order in orders if order["state"] == "full"
                      for line in order["lines"]]
        for _pickup in range(pickups):
            rng.choice(paid_lines)["picks"].append(rng.choice((1, 1, 1, 2, 2, 3)))
        lines = [line for order in orders for line in order["lines"]]
        for line in lines:
            line["rest"] = rng.choice((0, 1, 2, 3, 4, 6)) if line["picks"] else \
                rng.choice((1, 2, 3, 4, 6, 10))
        if not any(line["rest"] for line in lines):  # every customer still holds something
            (paid_lines or lines)[-1]["rest"] = rng.randint(1, 3)
        marketer_id = owner_id or rng.choice(self.marketer_ids)
        fit = []
        for order in orders:
            fit += self._order(customer_id, marketer_id, order)
        if fit:
            self.collectable.append((customer_id, fit))

    def _order(self, customer_id, marketer_id, plan):
        rng, rows, now = self.rng, self.rows, self.now
        order_id = self.order_id
        self.order_id += 1
        created = now - timedelta(days=rng.uniform(20, 700))
        number = f"XS{local_day(created, self.zone):%Y%m%d}-{order_id:05d}"
        total = 0
        deposits = []
        for line in plan["lines"]:
            product, batch, _days = line["batch"]
            line["id"], line["held"] = self.line_id, sum(line["picks"]) + line["rest"]
            self.line_id += 1
            total += line["held"] * product.sale_price
            rows["lines"].append({
                "id": line["id"], "order_id": order_id, "product_id": product.id,
                "package_id": None, "quantity": line["held"], "unit_price": product.sale_price,
                "discount": 0, "taken": 0, "held": line["held"], "returned": 0})
            deposits.append((line, product, batch))
        # The money: in full (at once, or a deposit then the balance), a deposit only, nothing.
        payments = []
        if plan["state"] == "full":
            if rng.random() < 0.5:
                payments = [("full", total, created)]
            else:
                first = max(100, total * rng.randint(20, 70) // 100 // 100 * 100)
                payments = [("deposit", first, created),
                            ("balance", total - first,
                             created + timedelta(hours=rng.uniform(1, 360)))]
        elif plan["state"] == "part":
            payments = [("deposit", max(100, total * rng.randint(20, 70) // 100 // 100 * 100),
                         created)]
        paid = sum(amount for _kind, amount, _at in payments)
        for kind, amount, at in payments:
            rows["payments"].append({
                "order_id": order_id, "kind": kind, "method": rng.choice(METHODS),
                "amount": amount, "reference": "", "reason": "",
                "cashier_id": self.cashier_id if rng.random() < 0.3 else marketer_id,
                "approved_by_id": None, "at": at, "recorded_at": at, "reverses_id": None,
                "return_id": None, "token": None})
        rows["orders"].append({
            "id": order_id, "number": number, "customer_id": customer_id,
            "marketer_id": marketer_id, "department_id": self.marketers[marketer_id],
            "channel": rng.choice(("store", "phone")), "event_id": None, "check_in_id": None,
            "warehouse_id": self.warehouse_id, "status": "open", "total": total,
            "returned_value": 0, "paid": paid, "balance_due": total - paid,
            "due_date": local_day(created, self.zone) + timedelta(days=30), "note": "",
            "created_by_id": marketer_id, "created_at": created, "cancelled_by_id": None,
            "cancelled_at": None, "cancel_reason": "", "token": None})
        # Left in custody: free shelf → custody shelf, and a deposit entry, per line.
        fit = []
        for line, product, batch in deposits:
            self.deposited[batch.id] += line["held"]
            self._move(product, batch, self.stock_id, self.custody_id, line["held"],
                       "custody_deposit", ("orders", order_id), customer_id, number,
                       marketer_id, created)
            self._entry("deposit", customer_id, order_id, line["id"], product, batch,
                        line["held"], None, number, marketer_id, created)
            # Then the visits to collect, after the last payment, one slip each.
            start = payments[-1][2] + timedelta(hours=1) if payments else created
            span = (now - timedelta(hours=1) - start).total_seconds()
            for quantity, at in zip(line["picks"], sorted(
                    start + timedelta(seconds=rng.uniform(0, span)) for _p in line["picks"])):
                slip_id = self.pickup_id
                self.pickup_id += 1
                slip = f"TH{local_day(at, self.zone):%Y%m%d}-{slip_id:05d}"
                relative = rng.random() < 0.2
                rows["slips"].append({
                    "id": slip_id, "number": slip, "customer_id": customer_id,
                    "collected_by": "家属" if relative else "",
                    "relation": "子女" if relative else "", "event_id": None,
                    "released_by_id": None, "release_reason": "", "actor_id": self.clerk_id,
                    "at": at, "token": None})
                self.picked[batch.id] += quantity
                self._move(product, batch, self.custody_id, self.customer_loc, quantity,
                           "custody_pickup", (cu.DOCUMENT, slip_id), customer_id, slip,
                           self.clerk_id, at)
                self._entry("pickup", customer_id, order_id, line["id"], product, batch,
                            -quantity, slip_id, slip, self.clerk_id, at)
            if plan["state"] == "full" and line["rest"]:
                fit.append(line["id"])
        return fit

    def _move(self, product, batch, source, target, quantity, reason, document, customer_id,
              note, actor_id, at):
        self.rows["moves"].append({
            "product_id": product.id, "batch_id": batch.id, "from_location_id": source,
            "to_location_id": target, "quantity": quantity, "unit_cost": batch.unit_cost,
            "reason": reason, "document_type": document[0], "document_id": document[1],
            "customer_id": customer_id, "event_id": None, "note": note, "reverses_id": None,
            "actor_id": actor_id, "at": at})

    def _entry(self, kind, customer_id, order_id, line_id, product, batch, quantity, pickup_id,
               note, actor_id, at):
        self.rows["entries"].append({
            "customer_id": customer_id, "order_id": order_id, "order_line_id": line_id,
            "product_id": product.id, "batch_id": batch.id, "warehouse_id": self.warehouse_id,
            "kind": kind, "quantity": quantity, "pickup_id": pickup_id, "reverses_id": None,
            "note": note, "actor_id": actor_id, "at": at})

    def flush(self):
        for key, table in (("orders", o.Order), ("lines", o.OrderLine), ("payments", o.Payment),
                           ("slips", cu.CustodyPickup), ("entries", cu.CustodyEntry),
                           ("moves", inv.StockMove)):
            insert_chunks(table.__table__, self.rows[key])
            self.counts[key] += len(self.rows[key])
        db.session.commit()
        self._clear()


def background(n_entries, rng, manager):
    """The custody history in bulk, then the receipts and the shelves' cached balances."""
    clerk = accounts.create_user(username="keeper", display_name="仓管", password="bench2026x",
                                 roles=["warehouse"], actor=None)
    cashier = accounts.create_user(username="cashier", display_name="财务",
                                   password="bench2026x", roles=["finance"], actor=None)
    db.session.commit()
    batches = catalogue(manager, rng)
    warehouse = db.session.scalar(select(inv.Warehouse).where(inv.Warehouse.code == "MAIN"))
    marketers = dict(db.session.execute(
        select(accounts.User.id, accounts.User.department_id).where(
            accounts.User.username.in_([f"m{i}" for i in range(100)]))).all())
    customers = db.session.execute(select(c.Customer.id, c.Customer.owner_id)
                                   .order_by(c.Customer.id)).all()
    counts = entry_counts(len(customers), n_entries, rng)
    plan = Background(rng, batches, clerk, cashier, marketers, warehouse)
    for start in range(0, len(customers), ROUND):
        for (customer_id, owner_id), n in zip(customers[start:start + ROUND],
                                              counts[start:start + ROUND]):
            plan.customer(customer_id, owner_id, n)
        plan.flush()
    # Stock in: what the deposits took, plus some, before the first order; then the free shelf
    # loses what went into custody and the custody shelf holds what is still held.
    first = plan.now - timedelta(days=720)
    stock, custody = plan.stock_id, plan.custody_id
    for product, batch, days in batches:
        wanted = plan.deposited[batch.id] + 500
        while wanted > 0:
            quantity = min(wanted, inv.stock.MAX_QUANTITY)
            inv.receive(product=product, quantity=quantity, warehouse=warehouse, actor=clerk,
                        batch_number=batch.number, expiry_date=batch.expiry_date,
                        unit_cost=batch.unit_cost, now=first)
            wanted -= quantity
        db.session.execute(update(inv.StockQuant).where(
            inv.StockQuant.location_id == stock, inv.StockQuant.batch_id == batch.id).values(
            quantity=inv.StockQuant.quantity - plan.deposited[batch.id]))
        db.session.execute(insert(inv.StockQuant.__table__), [{
            "location_id": custody, "product_id": product.id, "batch_id": batch.id,
            "quantity": plan.deposited[batch.id] - plan.picked[batch.id]}])
    db.session.commit()
    return plan


def p95(values):
    return round(statistics.quantiles(values, n=20)[-1], 1)


class Queries:
    """Counts the SQL statements sent in the measured spans (a figure the machine's load leaves
    alone): `since = queries.seen`, the work, then `queries.add(name, since)`."""

    def __init__(self, app):
        self.seen, self.totals = 0, {}
        with app.app_context():
            event.listen(db.engine, "before_cursor_execute", self._saw)

    def _saw(self, *_args):
        self.seen += 1

    def add(self, name, since):
        total, times = self.totals.get(name, (0, 0))
        self.totals[name] = (total + self.seen - since, times + 1)

    def averages(self):
        return {f"{name}_queries_avg": round(total / times, 1)
                for name, (total, times) in self.totals.items()}


def measure_page(app, customer_ids, queries):
    """The customer's custody page as the warehouse clerk gets it from the test client."""
    client = signed_in_client(app, "keeper")
    client.get(f"/custody/customers/{customer_ids[0]}")  # warm up
    timings, size = [], 0
    for customer_id in customer_ids:
        since, started = queries.seen, time.perf_counter()
        response = client.get(f"/custody/customers/{customer_id}")
        timings.append((time.perf_counter() - started) * 1000)
        queries.add("custody_view", since)
        assert response.status_code == 200, response.status_code
        assert b'data-testid="holding"' in response.data
        size = max(size, len(response.data))
    return p95(timings), round(size / 1000, 1)


def measure_finds(app, tails, queries):
    """Finding the holder at the counter by phone tail (the htmx partial of the custody
    search box), as the warehouse clerk."""
    client = signed_in_client(app, "keeper")
    client.get("/custody/", query_string={"q": tails[0]}, headers={"HX-Request": "true"})
    timings = []
    for tail in tails:
        since, started = queries.seen, time.perf_counter()
        response = client.get("/custody/", query_string={"q": tail},
                              headers={"HX-Request": "true"})
        timings.append((time.perf_counter() - started) * 1000)
        queries.add("find_holder", since)
        assert response.status_code == 200 and b'data-testid="holder"' in response.data
    return p95(timings)


def measure_holdings(app, customer_ids, queries):
    """`custody.holdings` alone, a fresh session each time."""
    timings, rows = [], 0
    with app.app_context():
        for customer_id in customer_ids:
            db.session.remove()
            customer = db.session.get(c.Customer, customer_id)
            since, started = queries.seen, time.perf_counter()
            holdings = cu.holdings(customer)
            timings.append((time.perf_counter() - started) * 1000)
            queries.add("holdings", since)
            rows += len(holdings)
        db.session.remove()
    return p95(timings), round(rows / len(customer_ids), 1)


def measure_pickups(app, collectable, queries):
    """A pickup per customer (one box of each fully paid line still held, at most three): the
    clerk read first, then BEGIN IMMEDIATE, load the customer, `pick_up`, commit."""
    timings = []
    with app.app_context():
        for customer_id, line_ids in collectable:
            db.session.remove()  # a fresh session each time, as a request gets
            clerk = accounts.find_user_by_username("keeper")
            clerk.has_role("warehouse")
            end_reads()
            since, started = queries.seen, time.perf_counter()
            begin_write()
            customer = db.session.get(c.Customer, customer_id)
            pickup = cu.pick_up(customer, {line_id: 1 for line_id in line_ids[:3]},
                                actor=clerk, token=str(uuid.uuid4()))
            db.session.commit()
            timings.append((time.perf_counter() - started) * 1000)
            queries.add("pickup", since)
            assert pickup.id and pickup.number
        db.session.remove()
    return p95(timings)


def measure_posts(app, collectable, queries):
    """The same pickup as the clerk's form POST (CSRF and one-time token), answered by the
    redirect to the slip."""
    client = signed_in_client(app, "keeper")
    client.get(f"/custody/customers/{collectable[0][0]}")  # the form puts a CSRF token in
    with client.session_transaction() as session:
        raw = session["csrf_token"]
    csrf = URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token").dumps(raw)
    timings = []
    for customer_id, line_ids in collectable:
        data = {"csrf_token": csrf, "token": str(uuid.uuid4()), "collected_by": "",
                "relation": "", **{f"line-{line_id}": "1" for line_id in line_ids[:3]}}
        since, started = queries.seen, time.perf_counter()
        response = client.post(f"/custody/customers/{customer_id}/pickups", data=data)
        timings.append((time.perf_counter() - started) * 1000)
        queries.add("pickup_post", since)
        assert response.status_code == 302, (response.status_code, response.data[:2000])
    return p95(timings)


def assert_ledgers():
    problems = check_ledgers()
    assert problems["custody"] == [], problems["custody"][:5]
    assert problems["stock"] == [], problems["stock"][:5]
    assert problems["payments"] == [], problems["payments"][:5]
    assert not any(problems.values()), {k: v[:5] for k, v in problems.items()}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=50000, help="customers holding goods")
    parser.add_argument("--entries", type=int, default=500000, help="background custody entries")
    parser.add_argument("--pickups", type=int, default=200, help="measured pickups")
    parser.add_argument("--views", type=int, default=200, help="measured custody pages")
    parser.add_argument("--finds", type=int, default=50, help="measured holder searches")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-custody-"))
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'bench.db'}",
                      "INSTANCE_DIR": str(folder), "SECRET_KEY": "bench",
                      "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    rng = random.Random(31)
    started = time.perf_counter()
    with app.app_context():
        upgrade()
        manager, _marketer, phones = build(args.customers)
        customers_s = round(time.perf_counter() - started, 1)
        plan = background(args.entries, rng, manager)
        build_s = round(time.perf_counter() - started, 1)
        started = time.perf_counter()
        assert_ledgers()
        check_ledgers_s = round(time.perf_counter() - started, 1)
        holders = db.session.scalar(select(func.count()).select_from(
            select(cu.CustodyEntry.customer_id).group_by(cu.CustodyEntry.customer_id)
            .having(func.sum(cu.CustodyEntry.quantity) > 0).subquery()))
        entries = db.session.scalar(select(func.count(cu.CustodyEntry.id)))
        db.session.rollback()
    assert holders == args.customers, (holders, args.customers)
    viewed = rng.sample(range(1, args.customers + 1), min(args.views, args.customers))
    sample = rng.sample(plan.collectable, min(len(plan.collectable),
                                              args.pickups + args.pickups // 2))
    queries = Queries(app)
    page_p95, page_kb = measure_page(app, viewed, queries)
    holdings_p95, holding_rows = measure_holdings(app, viewed, queries)
    find_p95 = measure_finds(app, [p[-4:] for p in rng.sample(phones, args.finds)], queries)
    pickup_p95 = measure_pickups(app, sample[:args.pickups], queries)
    post_p95 = measure_posts(app, sample[args.pickups:], queries)
    with app.app_context():
        assert_ledgers()  # the measured pickups kept the books right too
    print(json.dumps({"customers": args.customers, "holders": holders,
                      "custody_entries": entries, "orders": plan.counts["orders"],
                      "order_lines": plan.counts["lines"], "pickup_slips": plan.counts["slips"],
                      "stock_moves": plan.counts["moves"], "customers_s": customers_s,
                      "build_s": build_s, "check_ledgers_s": check_ledgers_s,
                      "custody_view_p95_ms": page_p95, "custody_page_kb": page_kb,
                      "holdings_p95_ms": holdings_p95, "holdings_rows_avg": holding_rows,
                      "find_holder_p95_ms": find_p95,
                      "pickup_p95_ms": pickup_p95, "pickups_measured": len(sample[:args.pickups]),
                      "pickup_post_p95_ms": post_p95,
                      "pickup_posts_measured": len(sample[args.pickups:]),
                      **queries.averages()}))


if __name__ == "__main__":
    main()
