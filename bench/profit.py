"""Speed of the profit report and the event ROI (issue 25), on its own SQLite database built by
the migrations.

    .venv/bin/python bench/profit.py [--scale 1.0] [--db FILE] [--repeat 3] [--only NAME]
        [--pages 200]

At scale 1 it builds, in bulk (Core inserts of many rows, not the ORM row by row): 200,000
customers owned by 100 marketers in 10 departments (bench/customers.py), 300 events over the
past year with 400 invitations each and their check-ins (bench/scheduler.py) and costs, 100
products (one batch each, its own unit cost) and two packages, then 500,000 orders over the
year — a third of them deals at an event by a guest who came, a tenth packages, lines taken home
or left in custody, discounts, 1 % cancelled, 0.3 % large orders still pending, 3 % with a unit
returned into stock or to scrap, most paid in part or in full — and 2,000,000 stock moves: each
line's sale issue or custody deposit, the returns, attendance gifts (with their gift issues),
redemptions (with theirs), custody pickups, transfers and receipts. The stock and custody ledgers
are not kept consistent (no custody entries, balances not summed): nothing measured reads them.

Measured (median of --repeat runs, a fresh session each): `profit_company_s`, the profit
report's gather() for the company as a manager over the last 30 days (`profit_year_s`: over the
last 365 days, for information); `event_roi_s`, the event ROI's gather() of the busiest recent
event; `customer_page_p95_ms`, the customer page (with RFM) of 200 buying customers (--pages)
after the nightly RFM run, its 95th percentile. A measurement is a function registered with
@measurement("key") that returns seconds: add one the same way. Ends with one JSON line.

`--scale 0.01` builds a hundredth of everything (a quick run); `--db FILE` builds into FILE, or
reuses FILE when it exists (no build; the migrations written since are run).
"""
import argparse
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
from customers import build  # noqa: E402  (bench/customers.py)
from extensions import db  # noqa: E402
from formatting import company_zone, local_day  # noqa: E402
from models import accounts, checkin as ci, customers as c, events as ev  # noqa: E402
from models import gifts as g, inventory as inv, orders as o, points as pt  # noqa: E402
from models.base import utcnow  # noqa: E402
from scheduler import past_events  # noqa: E402  (bench/scheduler.py)

CHUNK = 10000
PRODUCT_NAMES = ("灵芝孢子粉", "深海鱼油", "氨基酸口服液", "钙片", "蛋白粉", "螺旋藻", "蜂胶",
                 "葡萄籽", "维生素", "益生菌")
METHODS = ("cash", "wechat", "wechat", "alipay", "card", "transfer")
#: At scale 1.
SIZES = {"customers": 200000, "orders": 500000, "moves": 2000000, "events": 300}
#: Invitations per event, whatever the scale.
PER_EVENT = 400

MEASUREMENTS = {}


def measurement(key):
    """Register a measurement: fn(context) -> seconds (or ms, as its key says)."""
    def register(fn):
        MEASUREMENTS[key] = fn
        return fn
    return register


class Writer:
    """Rows of one table, inserted CHUNK at a time (2,000,000 moves never sit in memory).
    `auto=False`: only when flushed (rows naming another table's rows go in after them)."""

    def __init__(self, table, auto=True):
        self.table, self.rows, self.count, self.auto = table, [], 0, auto

    def add(self, row):
        self.rows.append(row)
        if self.auto and len(self.rows) >= CHUNK:
            self.flush()

    def flush(self):
        if self.rows:
            db.session.execute(insert(self.table), self.rows)
            self.count += len(self.rows)
            self.rows = []


def catalogue(manager, rng):
    """100 products, each received once into MAIN in one batch of its own cost; a second
    warehouse for transfers; two packages. Returns (products {id: (price, batch, cost)},
    package lines [[line dict]], gift product (id, batch, cost), warehouses, locations)."""
    main = db.session.scalar(select(inv.Warehouse).where(inv.Warehouse.code == "MAIN"))
    store = inv.create_warehouse({"code": "W2", "name": "门店仓", "kind": "store"}, actor=manager)
    products, objects = {}, []
    for i in range(100):
        cost = rng.randrange(20, 600) * 100
        product = inv.create_product(
            {"sku": f"P{i:03d}", "name": f"{PRODUCT_NAMES[i % 10]}{i // 10 + 1}号", "unit": "盒",
             "for_sale": True, "sale_price": cost * rng.choice((2, 3, 3, 4)),
             "standard_cost": cost}, actor=manager)
        objects.append(product)
    gift = inv.create_product({"sku": "GIFT", "name": "养生杯", "unit": "个", "for_sale": False,
                               "is_gift": True, "redeemable": True, "points_price": 300,
                               "standard_cost": 1500}, actor=manager)
    db.session.flush()
    for product in objects + [gift]:
        move = inv.receive(product=product, quantity=inv.stock.MAX_QUANTITY, warehouse=main,
                           actor=manager, batch_number="B2026",
                           unit_cost=product.standard_cost + rng.randrange(-5, 6) * 100)
        products[product.id] = (product.sale_price, move.batch_id, move.unit_cost)
    packages = []
    for name, items in (("大单", [(objects[0], 6), (objects[1], 4), (objects[2], 2)]),
                        ("小单", [(objects[0], 2), (objects[3], 1)])):
        list_price = sum(p.sale_price * q for p, q in items)
        package = o.save_package(None, name=name, price=list_price * 85 // 100 // 100 * 100,
                                 items=items, actor=manager)
        packages.append([{"product_id": line["product"].id, "quantity": line["quantity"],
                          "unit_price": line["unit_price"], "discount": line["discount"],
                          "package_id": package.id} for line in o.package_lines(package)])
    locations = {"stock": inv.location_of(main).id, "custody": inv.location_of(main, "custody").id,
                 "store": inv.location_of(store).id, "customer": inv.outside("customer").id,
                 "scrap": inv.outside("scrap").id, "supplier": inv.outside("supplier").id}
    db.session.commit()
    gift_row = products.pop(gift.id)
    return products, packages, (gift.id, gift_row[1], gift_row[2]), main.id, locations


def build_world(sizes, rng):
    """Everything the measurements read. Returns the figures of what was built."""
    now = utcnow()
    zone = company_zone()
    manager, _marketer, _phones = build(sizes["customers"])
    staff = accounts.create_user(username="door", display_name="会务", password="bench2026x",
                                 roles=["event_staff"], actor=None)
    finance = accounts.create_user(username="cashier", display_name="财务",
                                   password="bench2026x", roles=["finance"], actor=None)
    db.session.commit()
    past_events(rng, now, sizes["events"], PER_EVENT, manager, staff)
    costs = Writer(ev.EventCost.__table__)
    for event_id, starts in db.session.execute(select(ev.Event.id, ev.Event.starts_at)):
        for kind, amount in (("venue", 800000), ("meals", 450000), ("transport", 120000)):
            costs.add({"event_id": event_id, "kind": kind, "amount_fen": amount, "note": "",
                       "created_by_id": manager.id, "created_at": starts})
    costs.flush()
    products, packages, gift, warehouse_id, at = catalogue(manager, rng)
    product_ids = sorted(products)
    owners = dict(db.session.execute(select(c.Customer.id, c.Customer.owner_id)).all())
    customer_ids = list(owners)
    departments = dict(db.session.execute(select(accounts.User.id,
                                                 accounts.User.department_id)).all())
    marketer_ids = sorted(u for u in departments if u not in (manager.id, staff.id, finance.id)
                          and departments[u] is not None)
    check_ins = db.session.execute(select(ci.CheckIn.event_id, ci.CheckIn.customer_id,
                                          ci.CheckIn.at)).all()

    orders, lines = Writer(o.Order.__table__, False), Writer(o.OrderLine.__table__, False)
    payments = Writer(o.Payment.__table__, False)
    returns = Writer(o.OrderReturn.__table__, False)
    moves = Writer(inv.StockMove.__table__)
    next_move = (db.session.scalar(select(func.max(inv.StockMove.id))) or 0) + 1

    def move(product_id, source, target, quantity, reason, document, customer_id, when,
             event_id=None, batch_cost=None):
        nonlocal next_move
        _price, batch_id, cost = products.get(product_id) or (None, gift[1], gift[2])
        moves.add({"id": next_move, "product_id": product_id, "batch_id": batch_id,
                   "from_location_id": source, "to_location_id": target, "quantity": quantity,
                   "unit_cost": cost if batch_cost is None else batch_cost, "reason": reason,
                   "document_type": document[0], "document_id": document[1],
                   "customer_id": customer_id, "event_id": event_id, "note": "",
                   "reverses_id": None, "actor_id": manager.id, "at": when})
        next_move += 1

    line_id = payment_id = return_id = 0
    held_lines = []
    for order_id in range(1, sizes["orders"] + 1):
        if check_ins and rng.random() < 0.33:  # a deal at an event by a guest who came
            event_id, customer_id, arrived = rng.choice(check_ins)
            created = arrived + timedelta(minutes=rng.uniform(5, 150))
        else:
            event_id, customer_id = None, rng.choice(customer_ids)
            created = now - timedelta(days=rng.uniform(0, 365))
        marketer_id = owners[customer_id] or rng.choice(marketer_ids)
        roll = rng.random()
        status = "cancelled" if roll < 0.01 else "open"
        confirmation = "pending" if 0.01 <= roll < 0.013 else ""
        binding = status == "open" and not confirmation
        if rng.random() < 0.1:
            order_lines = [dict(line) for line in rng.choice(packages)]
        else:
            order_lines = []
            for product_id in rng.sample(product_ids, rng.choice((1, 1, 1, 2, 2, 3))):
                price = products[product_id][0]
                quantity = rng.choice((1, 1, 2, 3, 6))
                discount = min(rng.choice((0, 0, 0, 50, 100, 200)) * 100,
                               quantity * price // 5)
                order_lines.append({"product_id": product_id, "quantity": quantity,
                                    "unit_price": price, "discount": discount,
                                    "package_id": None})
        held_all = rng.random() < 0.2
        total, returned_value = 0, 0
        for line in order_lines:
            line_id += 1
            amount = line["quantity"] * line["unit_price"] - line["discount"]
            total += amount
            held = line["quantity"] if held_all else 0
            line.update(id=line_id, order_id=order_id, taken=line["quantity"] - held, held=held,
                        returned=0)
            if binding:
                if held:
                    move(line["product_id"], at["stock"], at["custody"], held, "custody_deposit",
                         ("orders", order_id), customer_id, created, event_id)
                    held_lines.append((line["product_id"], held, customer_id, created))
                else:
                    move(line["product_id"], at["stock"], at["customer"], line["quantity"],
                         "sale_issue", ("orders", order_id), customer_id, created, event_id)
        if binding and rng.random() < 0.03:  # a unit of the first line comes back
            line = order_lines[0]
            when = min(now - timedelta(minutes=1), created + timedelta(days=rng.uniform(1, 30)))
            scrap = rng.random() < 0.15
            value = (line["quantity"] * line["unit_price"] - line["discount"]) // line["quantity"]
            line["returned"], returned_value = 1, value
            return_id += 1
            returns.add({"id": return_id, "order_id": order_id, "line_id": line["id"],
                         "quantity": 1, "from_held": 1 if line["held"] else 0,
                         "disposition": "scrap" if scrap else "restock",
                         "warehouse_id": None if scrap else warehouse_id,
                         "batch_id": products[line["product_id"]][1], "value": value,
                         "reason": "不合适", "approved_by_id": manager.id,
                         "created_by_id": manager.id, "at": when, "token": None})
            move(line["product_id"], at["custody"] if line["held"] else at["customer"],
                 at["scrap"] if scrap else at["stock"], 1,
                 "custody_return" if line["held"] else "customer_return",
                 ("orders", order_id), customer_id, when, event_id)
        for line in order_lines:
            lines.add(line)
        paid = 0
        if binding:
            share = rng.random()
            paid = total if share < 0.65 else total * rng.randrange(10, 90) // 100 \
                if share < 0.9 else 0
            paid = min(paid, total - returned_value)
            if paid > 0:
                payment_id += 1
                payments.add({"id": payment_id, "order_id": order_id,
                              "kind": "full" if paid == total else "deposit",
                              "method": rng.choice(METHODS), "amount": paid, "reference": "",
                              "reason": "", "cashier_id": finance.id, "approved_by_id": None,
                              "at": created, "recorded_at": created, "reverses_id": None,
                              "return_id": None, "token": None})
        orders.add({
            "id": order_id, "number": f"XS{local_day(created, zone):%Y%m%d}-{order_id:06d}",
            "customer_id": customer_id, "marketer_id": marketer_id,
            "department_id": departments[marketer_id], "channel": "event" if event_id else
            rng.choice(("store", "phone")), "event_id": event_id, "check_in_id": None,
            "warehouse_id": warehouse_id, "status": status, "total": total,
            "returned_value": returned_value, "paid": paid,
            "balance_due": 0 if status == "cancelled" else total - returned_value - paid,
            "due_date": local_day(created, zone) + timedelta(days=30), "note": "",
            "created_by_id": marketer_id, "created_at": created,
            "cancelled_by_id": manager.id if status == "cancelled" else None,
            "cancelled_at": created + timedelta(hours=1) if status == "cancelled" else None,
            "cancel_reason": "顾客反悔" if status == "cancelled" else "",
            "confirmation": confirmation, "confirmation_reason": "",
            "confirmed_by_id": None, "confirmed_at": None, "family_informed": False,
            "token": None})
        if order_id % CHUNK == 0:
            for writer in (orders, lines, payments, returns):  # the orders first
                writer.flush()
    for writer in (orders, lines, payments, returns):
        writer.flush()

    # Attendance gifts at the events (a gift issue and its move each), redemptions, custody
    # pickups, then transfers and receipts up to the number of moves asked for.
    issues, redeemed = Writer(g.GiftIssue.__table__), Writer(pt.Redemption.__table__)
    gift_id = 0
    for event_id, customer_id, arrived in check_ins:
        if rng.random() < 0.7 and moves.count + len(moves.rows) < sizes["moves"]:
            gift_id += 1
            issues.add({"id": gift_id, "kind": "attendance", "event_id": event_id,
                        "customer_id": customer_id, "order_id": None, "rule_id": None,
                        "product_id": gift[0], "quantity": 1,
                        "marketer_id": owners[customer_id], "warehouse_id": warehouse_id,
                        "staff_id": staff.id, "approved_by_id": None, "cost": gift[2],
                        "note": "", "reverses_id": None, "at": arrived, "token": None})
            move(gift[0], at["stock"], at["customer"], 1, "gift_issue", ("gift_issues", gift_id),
                 customer_id, arrived, event_id)
    for redemption_id in range(1, sizes["orders"] // 25 + 1):
        customer_id = rng.choice(customer_ids)
        when = now - timedelta(days=rng.uniform(0, 365))
        redeemed.add({"id": redemption_id, "number": f"DH{redemption_id:08d}",
                      "customer_id": customer_id, "warehouse_id": warehouse_id,
                      "event_id": None, "marketer_id": owners[customer_id], "points": 300,
                      "cost": gift[2], "actor_id": manager.id, "at": when,
                      "reversed_at": None, "in_custody": False, "token": None})
        move(gift[0], at["stock"], at["customer"], 1, "redemption_issue",
             ("points_redemptions", redemption_id), customer_id, when)
    for product_id, quantity, customer_id, created in held_lines:
        if rng.random() < 0.5:
            move(product_id, at["custody"], at["customer"], quantity, "custody_pickup",
                 ("custody_pickups", 0), customer_id,
                 min(now, created + timedelta(days=rng.uniform(1, 60))))
    for writer in (issues, redeemed, moves):
        writer.flush()
    while moves.count < sizes["moves"]:
        product_id = rng.choice(product_ids)
        when = now - timedelta(days=rng.uniform(0, 365))
        if rng.random() < 0.8:
            move(product_id, at["stock"], at["store"], rng.randint(1, 20), "transfer",
                 ("stock_documents", 0), None, when)
        else:
            move(product_id, at["supplier"], at["stock"], rng.randint(50, 500), "receipt",
                 ("stock_documents", 0), None, when)
        if len(moves.rows) + moves.count >= sizes["moves"]:
            break
    moves.flush()
    db.session.commit()
    return {"customers": len(customer_ids), "orders": orders.count, "lines": lines.count,
            "payments": payments.count, "returns": returns.count,
            "events": sizes["events"], "gift_issues": issues.count,
            "moves": db.session.scalar(select(func.count()).select_from(inv.StockMove))}


# --- Measurements ----------------------------------------------------------------------------

def timed(fn, repeat):
    """The median of `repeat` runs of fn() in seconds, each in a fresh session."""
    runs = []
    for _n in range(repeat):
        db.session.remove()
        started = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - started)
    return round(statistics.median(runs), 2)


def last_days(days):
    today = local_day(utcnow())
    return {"start": (today - timedelta(days=days - 1)).isoformat(), "end": today.isoformat()}


@measurement("profit_company_s")
def profit_company(context):
    from reports import profit
    from reports.params import parse
    return timed(lambda: profit.gather(parse(last_days(30), context.manager())), context.repeat)


@measurement("profit_year_s")
def profit_year(context):
    from reports import profit
    from reports.params import parse
    return timed(lambda: profit.gather(parse(last_days(365), context.manager())),
                 context.repeat)


@measurement("event_roi_s")
def event_roi(context):
    from reports import event_roi as roi
    from reports.params import parse
    return timed(lambda: roi.gather(parse({"event": str(context.event_id)}, context.manager())),
                 context.repeat)


@measurement("customer_page_p95_ms")
def customer_page(context):
    """The customer page (lifetime figures, RFM scores, timeline) of 200 buying customers
    (--pages), as a manager, after the nightly RFM run: the 95th percentile in ms of the view's
    time."""
    from flask import current_app
    from flask_login import login_user

    from blueprints.customers.routes import show
    from jobs import customers as customer_jobs
    customer_jobs.rfm(local_day(utcnow()))
    db.session.commit()
    ids = db.session.scalars(select(o.Order.customer_id).distinct().limit(context.pages)).all()
    runs = []
    for customer_id in ids:
        db.session.remove()
        with current_app.test_request_context(f"/customers/{customer_id}"):
            login_user(context.manager())
            started = time.perf_counter()
            show(customer_id)
            runs.append((time.perf_counter() - started) * 1000)
    runs.sort()
    return round(runs[max(0, round(len(runs) * 0.95) - 1)], 1)


class Context:
    """What measurements need: the app (inside its request context), the manager, the event
    measured, how many runs."""

    def __init__(self, repeat, pages=200):
        self.repeat, self.pages = repeat, pages
        self.manager_id = db.session.scalar(select(accounts.User.id).where(
            accounts.User.username == "boss"))
        # The busiest event of the last two months: the most orders booked to it.
        since = utcnow() - timedelta(days=60)
        self.event_id = db.session.scalar(
            select(o.Order.event_id).join(ev.Event, ev.Event.id == o.Order.event_id)
            .where(ev.Event.starts_at >= since).group_by(o.Order.event_id)
            .order_by(func.count().desc()).limit(1)) or db.session.scalar(
            select(ev.Event.id).order_by(ev.Event.starts_at.desc()).limit(1))

    def manager(self):
        return db.session.get(accounts.User, self.manager_id)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0,
                        help="share of the full size (1: 200,000 customers, 500,000 orders, "
                             "2,000,000 stock moves)")
    parser.add_argument("--db", help="build into this SQLite file, or reuse it when it exists")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pages", type=int, default=200, help="customer pages measured")
    parser.add_argument("--only", choices=sorted(MEASUREMENTS), action="append",
                        help="measure only this (may be given more than once)")
    args = parser.parse_args()
    sizes = {key: max(3, round(value * args.scale)) for key, value in SIZES.items()}
    sizes["customers"] = max(sizes["customers"], PER_EVENT + 100)
    database = Path(args.db).resolve() if args.db else \
        Path(tempfile.mkdtemp(prefix="bench-profit-")) / "bench.db"
    reuse = database.exists()
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}",
                      "INSTANCE_DIR": str(database.parent), "SECRET_KEY": "bench",
                      "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    built, build_s = {}, 0
    started = time.perf_counter()
    with app.app_context():
        upgrade()  # a reused database gets the migrations written since it was built
        if not reuse:
            built = build_world(sizes, random.Random(25))
        db.session.remove()
    build_s = round(time.perf_counter() - started, 1)
    with app.test_request_context():
        if reuse:
            built = {"orders": db.session.scalar(select(func.count()).select_from(o.Order)),
                     "moves": db.session.scalar(select(func.count())
                                                .select_from(inv.StockMove))}
        context = Context(args.repeat, args.pages)
        figures = {key: fn(context) for key, fn in MEASUREMENTS.items()
                   if not args.only or key in args.only}
    print(json.dumps({**built, "build_s": build_s, "event_id": context.event_id, **figures}))


if __name__ == "__main__":
    main()
