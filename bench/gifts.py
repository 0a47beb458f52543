"""Speed of gift control (issue 9), on its own SQLite database built by the migrations.

    .venv/bin/python bench/gifts.py [--moves 200000] [--customers 20000] [--issues 200]
        [--invitations 2000]

Builds N customers owned by 100 marketers (bench/customers.py), an open event of 2,000 confirmed
invitations (--invitations) with its door staff (bench/checkin.py), 5 gift products received
into the main warehouse, and M background gift issues (attendance, one per customer per event,
and purchase gifts) over 200 past events inserted in bulk, each with its gift-issue stock move;
the cached balances are kept equal to the moves and check_ledgers() proves them (stock and
gifts). Then all 2,000 invitations check in, the event gets an attendance gift rule, and 1,800
of the arrivals get their gift unmeasured. Measured in-process (p95, ms): the attendance gift for
the other 200 (BEGIN IMMEDIATE, load, `gifts.issue_attendance_gifts`, commit), the event's gift
page as a manager gets it from the test client, and its summary queries alone (by product, by
marketer, total cost). Ends with one JSON line of the figures (`gift_issue_p95_ms`,
`gift_summary_p95_ms`, `gift_summary_query_p95_ms`).
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

from sqlalchemy import insert, select, update  # noqa: E402

from app import create_app  # noqa: E402
from checkin import prepare  # noqa: E402  (bench/checkin.py)
from customers import signed_in_client  # noqa: E402  (bench/customers.py)
from extensions import db  # noqa: E402
from models import accounts, checkin as ci, customers as c, door, events as ev, gifts  # noqa: E402
from models import inventory as inv  # noqa: E402
from models.base import begin_write, end_reads, utcnow  # noqa: E402
from models.ledgers import check_ledgers  # noqa: E402

CHUNK = 10000
DAYS = 720
PAST_EVENTS = 200
GIFT_NAMES = ("养生杯", "围巾", "按摩梳", "保温杯", "雨伞")
#: Share of the background gift issues that are attendance gifts (the rest: purchase gifts).
ATTENDANCE_SHARE = 0.7


def insert_chunks(table, rows):
    for start in range(0, len(rows), CHUNK):
        db.session.execute(insert(table), rows[start:start + CHUNK])


def gift_catalogue(manager):
    """The gift products (through the API) and the main warehouse."""
    main = db.session.scalar(select(inv.Warehouse).where(inv.Warehouse.code == "MAIN"))
    products = []
    for i, name in enumerate(GIFT_NAMES):
        products.append(inv.create_product(
            {"sku": f"G{i:03d}", "name": name, "unit": "个", "for_sale": False, "is_gift": True,
             "sale_price": 0, "standard_cost": (i + 1) * 1500, "low_stock_threshold": 20,
             "category": "赠品"}, actor=manager))
    db.session.commit()
    return main, products


def past_events(manager, rng):
    """PAST_EVENTS closed events over the past two years, in bulk. Returns [(id, starts_at)]."""
    end = utcnow() - timedelta(days=2)
    step = timedelta(days=DAYS) / PAST_EVENTS
    rows = []
    for i in range(PAST_EVENTS):
        starts = end - step * (PAST_EVENTS - i)
        rows.append({"title": f"往期讲座{i + 1}", "kind": "lecture", "venue": "酒店",
                     "address": "", "starts_at": starts, "ends_at": starts + timedelta(hours=3),
                     "capacity": 2000, "lecturer": "", "featured": "", "status": "closed",
                     "created_by_id": manager.id, "created_at": starts - timedelta(days=14),
                     "warehouse_id": None})
    insert_chunks(ev.Event.__table__, rows)
    return list(db.session.execute(select(ev.Event.id, ev.Event.starts_at).where(
        ev.Event.status == "closed").order_by(ev.Event.id)))


def background_gifts(n_moves, manager, staff, main, products, rng):
    """n_moves gift issues (one stock move each) over the past events, in bulk, after a receipt
    of enough stock of every gift; the balances then lose what the issues took."""
    events = past_events(manager, rng)
    customers = list(db.session.execute(select(c.Customer.id, c.Customer.owner_id)))
    per_event = [n_moves // len(events) + (1 if i < n_moves % len(events) else 0)
                 for i in range(len(events))]
    issues = []
    for (event_id, starts), count in zip(events, per_event):
        arrivals = min(int(count * ATTENDANCE_SHARE), len(customers))
        attending = rng.sample(customers, arrivals)
        buying = [rng.choice(customers) for _ in range(count - arrivals)]
        for n, (customer_id, owner_id) in enumerate(attending + buying):
            kind = "attendance" if n < arrivals else "purchase"
            product = products[0 if kind == "attendance" and rng.random() < 0.6
                               else rng.randrange(len(products))]
            issues.append({
                "id": len(issues) + 1, "kind": kind, "event_id": event_id,
                "customer_id": customer_id, "order_id": None, "rule_id": None,
                "product_id": product.id, "quantity": 1 if kind == "attendance" else
                rng.randint(1, 3), "marketer_id": owner_id, "warehouse_id": main.id,
                "staff_id": staff.id, "approved_by_id": None, "note": "",
                "reverses_id": None, "token": None,
                "at": starts + timedelta(minutes=rng.randrange(0, 180))})
    # Enough stock first: what the background takes plus the measured event's 2,000 gifts.
    taken = {p.id: 0 for p in products}
    for row in issues:
        taken[row["product_id"]] += row["quantity"]
    first = min(row["at"] for row in issues) - timedelta(days=1) if issues else utcnow()
    batches = {}
    for product in products:
        wanted = taken[product.id] + 5000
        while wanted > 0:
            quantity = min(wanted, inv.stock.MAX_QUANTITY)
            move = inv.receive(product=product, quantity=quantity, warehouse=main, actor=manager,
                               batch_number="L2026", unit_cost=product.standard_cost, now=first)
            batches[product.id] = move.batch
            wanted -= quantity
    source, target = inv.location_of(main).id, inv.outside("customer").id
    moves = []
    for row in issues:
        batch = batches[row["product_id"]]
        row["cost"] = row["quantity"] * batch.unit_cost
        moves.append({
            "product_id": row["product_id"], "batch_id": batch.id, "from_location_id": source,
            "to_location_id": target, "quantity": row["quantity"], "unit_cost": batch.unit_cost,
            "reason": "gift_issue", "document_type": gifts.DOCUMENT, "document_id": row["id"],
            "customer_id": row["customer_id"], "event_id": row["event_id"], "note": "",
            "reverses_id": None, "actor_id": staff.id, "at": row["at"]})
    insert_chunks(gifts.GiftIssue.__table__, issues)
    insert_chunks(inv.StockMove.__table__, moves)
    for product in products:
        db.session.execute(update(inv.StockQuant).where(
            inv.StockQuant.location_id == source, inv.StockQuant.product_id == product.id,
            inv.StockQuant.batch_id == batches[product.id].id).values(
            quantity=inv.StockQuant.quantity - taken[product.id]))
    db.session.commit()
    return len(issues)


def check_in_everyone(event_id, staff, chunk=200):
    """All the event's invitations check in (commit every `chunk`). Returns the customer ids."""
    event = db.session.get(ev.Event, event_id)
    invitations = db.session.scalars(select(ev.Invitation).where(
        ev.Invitation.event_id == event_id).order_by(ev.Invitation.id)).all()
    for n, invitation in enumerate(invitations, 1):
        door.check_in(event, invitation, actor=staff, token=str(uuid.uuid4()))
        if n % chunk == 0:
            db.session.commit()
    db.session.commit()
    return list(db.session.scalars(select(ci.CheckIn.customer_id).where(
        ci.CheckIn.event_id == event_id).order_by(ci.CheckIn.id)))


def gift_rule(event_id, manager, main, product):
    event = db.session.get(ev.Event, event_id)
    gifts.save_rule(None, event=event, kind="attendance", product=product, quantity=1,
                    actor=manager)
    gifts.set_event_warehouse(event, main, actor=manager)
    db.session.commit()


def issue_unmeasured(event_id, customer_ids, chunk=200):
    staff = accounts.find_user_by_username("door")
    event = db.session.get(ev.Event, event_id)
    for n, customer_id in enumerate(customer_ids, 1):
        gifts.issue_attendance_gifts(event, db.session.get(c.Customer, customer_id),
                                     actor=staff, token=str(uuid.uuid4()))
        if n % chunk == 0:
            db.session.commit()
    db.session.commit()


def p95(values):
    return round(statistics.quantiles(values, n=20)[-1], 1)


def measure_issues(app, event_id, customer_ids):
    """The attendance gift at the door: staff read first, then BEGIN IMMEDIATE, load the event
    and the customer, issue, commit."""
    timings = []
    with app.app_context():
        for customer_id in customer_ids:
            db.session.remove()  # a fresh session each time, as a request gets
            staff = accounts.find_user_by_username("door")
            staff.has_role("event_staff")
            end_reads()
            started = time.perf_counter()
            begin_write()
            event = db.session.get(ev.Event, event_id)
            customer = db.session.get(c.Customer, customer_id)
            issue = gifts.issue_attendance_gifts(event, customer, actor=staff,
                                                 token=str(uuid.uuid4()))
            db.session.commit()
            timings.append((time.perf_counter() - started) * 1000)
            assert issue.id and issue.kind == "attendance"
        db.session.remove()
    return p95(timings)


def measure_queries(app, event_id, samples=30):
    """summary_by_product + summary_by_marketer + event_gift_cost, a fresh session each time."""
    timings = []
    with app.app_context():
        for _sample in range(samples + 1):
            db.session.remove()
            event = db.session.get(ev.Event, event_id)
            started = time.perf_counter()
            by_product = gifts.summary_by_product(event)
            by_marketer = gifts.summary_by_marketer(event)
            cost = gifts.event_gift_cost(event)
            timings.append((time.perf_counter() - started) * 1000)
        db.session.remove()
    return p95(timings[1:]), len(by_product), len(by_marketer), cost


def measure_page(app, event_id, samples=30):
    """The event's gift page as a manager gets it from the test client."""
    client = signed_in_client(app, "boss")
    timings = []
    for _sample in range(samples + 1):
        started = time.perf_counter()
        response = client.get(f"/gifts/events/{event_id}")
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    return p95(timings[1:]), round(len(response.data) / 1e6, 2)


def assert_ledgers():
    problems = check_ledgers()
    assert problems["stock"] == [], problems["stock"][:5]
    assert problems["gifts"] == [], problems["gifts"][:5]
    assert not any(problems.values()), {k: v[:5] for k, v in problems.items()}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--moves", type=int, default=200000)
    parser.add_argument("--customers", type=int, default=20000)
    parser.add_argument("--issues", type=int, default=200)
    parser.add_argument("--invitations", type=int, default=2000, help="guests of the event")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-gifts-"))
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'bench.db'}",
                      "INSTANCE_DIR": str(folder), "SECRET_KEY": "bench",
                      "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    rng = random.Random(29)
    started = time.perf_counter()
    event_id, _rows = prepare(app, args.customers, args.invitations)  # runs the migrations
    with app.app_context():
        manager = accounts.find_user_by_username("boss")
        staff = accounts.find_user_by_username("door")
        main_warehouse, products = gift_catalogue(manager)
        n_moves = background_gifts(args.moves, manager, staff, main_warehouse, products, rng)
        build_s = round(time.perf_counter() - started, 1)
        started = time.perf_counter()
        assert_ledgers()
        check_ledgers_s = round(time.perf_counter() - started, 1)
        db.session.rollback()
        started = time.perf_counter()
        arrived = check_in_everyone(event_id, staff)
        checkin_s = round(time.perf_counter() - started, 1)
        gift_rule(event_id, manager, main_warehouse, products[0])
        measured = arrived[-args.issues:]
        issue_unmeasured(event_id, arrived[:-args.issues])
        db.session.remove()
    issue_p95 = measure_issues(app, event_id, measured)
    query_p95, n_products, n_marketers, cost = measure_queries(app, event_id)
    page_p95, page_mb = measure_page(app, event_id)
    with app.app_context():
        event_gifts = len(gifts.event_ledger(db.session.get(ev.Event, event_id)))
        assert_ledgers()  # the measured issues kept the books right too
    print(json.dumps({"gift_moves": n_moves, "arrivals": len(arrived),
                      "event_gifts": event_gifts, "customers": args.customers,
                      "build_s": build_s, "check_ledgers_s": check_ledgers_s,
                      "checkin_2000_s": checkin_s, "gift_issue_p95_ms": issue_p95,
                      "gift_summary_p95_ms": page_p95, "gift_summary_page_mb": page_mb,
                      "gift_summary_query_p95_ms": query_p95,
                      "summary_products": n_products, "summary_marketers": n_marketers,
                      "event_gift_cost_fen": cost}))


if __name__ == "__main__":
    main()
