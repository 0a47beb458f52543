"""Speed of membership points (issue 10), on its own SQLite database built by the migrations.

    .venv/bin/python bench/points.py [--customers 200000] [--entries 2000000] [--redeems 200]

Builds N customers owned by 100 marketers (bench/customers.py), each with a points account, 4
redeemable products (through the catalogue) whose stock is received into the main warehouse,
and about M points entries in bulk over the past three calendar years: mostly lots (earned on
money paid, bonuses, a manager's additions; each expiring at the end of the following year, as
`points.default_expiry` says), redemptions at the counter (each with its redemption and its
redemption-issue stock move) and a few negative adjustments. Spending takes the oldest lots
first, exactly as `points.lots` counts them, and the expiry run of last New Year's night has
already expired what was left of the lots it was due for. About --expired-share of the lots
have passed their date by the run day: a third of them expired last New Year, the rest are due
at the next New Year's night (the run day: the year's heaviest expiry run). The cached balances
equal the entries and the stock balances equal the moves: check_ledgers() proves it before and
after, and the bench's own FIFO bookkeeping is compared with `points.lots` for a sample.

Measured in-process: a customer's balance as the points and customer pages read it
(`points.balance_of`, a fresh session each time: `balance_p95_ms`; also with `points.expiring`,
which the pages show next to it: `balance_and_expiring_p95_ms`); one redemption at the counter for
--redeems customers (BEGIN IMMEDIATE, load, `redemptions.redeem`, commit: `redeem_p95_ms`); then
one expiry run over all customers at the run day as the nightly job does it (BEGIN IMMEDIATE,
`points.run_expiry`, commit), in seconds and rows (`expiry_run_s`, `expiry_rows`, checked against
what the bookkeeping says is due), and a second run, which must write 0 (`rerun_rows`). Ends with
one JSON line of the figures.
"""
import argparse
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date, datetime, time as clock, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import func, insert, select, update  # noqa: E402

from app import create_app  # noqa: E402
from customers import build  # noqa: E402  (bench/customers.py)
from extensions import db  # noqa: E402
from formatting import company_zone, local_day  # noqa: E402
from models import accounts, customers as c, inventory as inv, points as pt  # noqa: E402
from models import redemptions  # noqa: E402
from models.base import begin_write, end_reads, utcnow  # noqa: E402
from models.ledgers import check_ledgers  # noqa: E402

CHUNK = 10000
#: Customers generated (and inserted) at a time.
BLOCK = 5000
#: (sku, name, points price, cost in fen) of the redeemable products.
PRIZES = (("R001", "保温杯", 300, 1500), ("R002", "围巾", 800, 3500),
          ("R003", "按摩梳", 2000, 8000), ("R004", "电饭煲", 5000, 19000))
#: Yuan paid on an order (one point a yuan): what an earned lot is worth.
PAID_YUAN = (98, 198, 298, 398, 498, 680, 980, 1280, 1980, 2980, 4980)
#: Chance that a step of a customer's history spends (when the balance allows it).
SPEND_SHARE = 0.22
#: Chance of a negative adjustment instead (when there is a balance).
TAKE_SHARE = 0.01
#: Of the lots: earned, then bonus, then the rest positive adjustments.
EARNED, BONUS = 0.78, 0.95
RESERVE = 20000  # units of each prize beyond what the background takes


def note(text):
    """Progress on stderr (the figures go to stdout)."""
    print(text, file=sys.stderr, flush=True)


def insert_chunks(table, rows):
    for start in range(0, len(rows), CHUNK):
        db.session.execute(insert(table), rows[start:start + CHUNK])


def local_moment(day, zone, hour=0):
    """Midnight (or `hour`) of a local day, as an aware UTC datetime."""
    return datetime.combine(day, clock(hour), zone).astimezone(timezone.utc)


class Timeline:
    """Where the history falls: years Y-2 (lots expired last New Year), Y-1 (lots due at the
    run day, the coming New Year) and Y (this year, until an hour ago)."""

    def __init__(self, now, zone, expired_share):
        self.zone = zone
        year = local_day(now, zone).year
        self.run_day = date(year + 1, 1, 1)
        self.run_now = local_moment(self.run_day, zone, 2)
        self.last_run_day = date(year, 1, 1)
        self.last_run_at = local_moment(self.last_run_day, zone, 2)
        edges = [local_moment(date(y, 1, 1), zone).timestamp() for y in (year - 2, year - 1, year)]
        edges.append((now - timedelta(hours=1)).timestamp())
        self.windows = list(zip(edges, edges[1:]))
        self.weights = [expired_share / 3, expired_share * 2 / 3, 1 - expired_share]
        self.start = local_moment(date(year - 2, 1, 1), zone)

    def moments(self, n, rng):
        """n moments of a customer's history, in order, as UTC timestamps."""
        picks = rng.choices(self.windows, self.weights, k=n)
        return sorted(rng.uniform(low, high) for low, high in picks)


class Background:
    """The background history, customer by customer, with FIFO lot bookkeeping as
    `points.lots` does it: (id, expires_on, left) per lot, spent oldest first."""

    def __init__(self, timeline, prizes, batches, warehouse_id, source_id, target_id, clerk_id,
                 manager_id, rng):
        self.t, self.rng = timeline, rng
        self.prizes, self.batches = prizes, batches  # [(id, price, cost)], {product id: batch}
        self.cheapest = min(price for _id, price, _cost in prizes)
        self.warehouse_id, self.source_id, self.target_id = warehouse_id, source_id, target_id
        self.clerk_id, self.manager_id = clerk_id, manager_id
        self.entry_id = self.redemption_id = 0
        self.entries, self.redemptions, self.moves, self.accounts = [], [], [], []
        self.taken = {product_id: 0 for product_id, _price, _cost in prizes}
        self.n_steps = self.n_lots = self.n_lots_passed = self.n_redemptions = 0
        #: customer id → lots still holding points past their date at the run day
        self.due = {}
        self.balances = {}
        self.kept = {}  # customer id → [(lot id, left)] for the sample checked against lots()

    def entry(self, customer_id, kind, points, at, *, expires_on=None, lot_id=None,
              redemption_id=None, bonus_key=None, reason="", actor_id=None):
        self.entry_id += 1
        self.entries.append({
            "id": self.entry_id, "customer_id": customer_id, "kind": kind, "points": points,
            "expires_on": expires_on, "lot_id": lot_id, "order_id": None, "payment_id": None,
            "redemption_id": redemption_id, "reverses_id": None, "bonus_key": bonus_key,
            "reason": reason, "actor_id": actor_id, "at": at, "token": None})
        return self.entry_id

    def customer(self, customer_id, owner_id, n_steps, keep=False):
        rng, t = self.rng, self.t
        lots, balance, first = [], 0, 0  # lots[first:] may still hold points
        expired_last_run = False
        for stamp in t.moments(n_steps, rng):
            at = datetime.fromtimestamp(stamp, timezone.utc)
            if not expired_last_run and at > t.last_run_at:
                balance -= self.expire(customer_id, lots, t.last_run_at)
                expired_last_run = True
            if balance >= self.cheapest and rng.random() < SPEND_SHARE:
                points = self.redeem(customer_id, owner_id, balance, at)
            elif balance > 0 and rng.random() < TAKE_SHARE:
                points = min(balance, rng.randint(1, 5) * 100)
                self.entry(customer_id, "adjusted", -points, at, reason="扣回误发积分",
                           actor_id=self.manager_id)
            else:
                balance += self.lot(customer_id, owner_id, lots, at, local_day(at, t.zone))
                continue
            balance -= points
            while points:  # oldest lots first
                while lots[first][2] == 0:
                    first += 1
                share = min(points, lots[first][2])
                lots[first][2] -= share
                points -= share
        if not expired_last_run:
            balance -= self.expire(customer_id, lots, t.last_run_at)
        self.n_lots += len(lots)
        self.n_lots_passed += sum(1 for lot in lots if lot[1] < t.run_day)
        due = sum(1 for lot in lots if lot[1] < t.run_day and lot[2])
        if due:
            self.due[customer_id] = due
        self.balances[customer_id] = balance
        self.accounts.append({"customer_id": customer_id, "balance": balance, "debt": 0})
        if keep:
            self.kept[customer_id] = [(lot[0], lot[2]) for lot in lots if lot[2]]

    def lot(self, customer_id, owner_id, lots, at, day):
        rng = self.rng
        expires_on = pt.default_expiry(day)
        roll = rng.random()
        if roll < EARNED:
            points = rng.choice(PAID_YUAN)
            entry_id = self.entry(customer_id, "earned", points, at, expires_on=expires_on,
                                  reason=f"Paid XS{day:%Y%m%d}-{self.entry_id + 1:05d}",
                                  actor_id=owner_id)
        elif roll < BONUS:
            kind, points = rng.choice((("attendance", 50), ("attendance", 100),
                                       ("birthday", 200), ("referral", 100)))
            entry_id = self.entry(customer_id, "bonus", points, at, expires_on=expires_on,
                                  bonus_key=f"{kind}:b{self.entry_id + 1}", reason=kind)
        else:
            points = rng.randint(1, 10) * 100
            entry_id = self.entry(customer_id, "adjusted", points, at, expires_on=expires_on,
                                  reason="老顾客回馈", actor_id=self.manager_id)
        lots.append([entry_id, expires_on, points])
        return points

    def expire(self, customer_id, lots, at):
        """Last New Year's run: what is left of each lot past its date expires."""
        total = 0
        for lot in lots:
            if lot[1] < self.t.last_run_day and lot[2]:
                self.entry(customer_id, "expired", -lot[2], at, lot_id=lot[0],
                           reason=f"Expired {lot[1]}")
                total += lot[2]
                lot[2] = 0
        return total

    def redeem(self, customer_id, owner_id, balance, at):
        rng = self.rng
        product_id, price, cost = rng.choice([p for p in self.prizes if p[1] <= balance])
        quantity = 2 if 2 * price <= balance and rng.random() < 0.2 else 1
        self.redemption_id += 1
        number = f"DH{local_day(at, self.t.zone):%Y%m%d}-{self.redemption_id:05d}"
        self.redemptions.append({
            "id": self.redemption_id, "number": number, "customer_id": customer_id,
            "warehouse_id": self.warehouse_id, "event_id": None, "marketer_id": owner_id,
            "points": price * quantity, "cost": cost * quantity, "actor_id": self.clerk_id,
            "at": at, "reversed_at": None, "token": None})
        batch = self.batches[product_id]
        self.moves.append({
            "product_id": product_id, "batch_id": batch.id, "from_location_id": self.source_id,
            "to_location_id": self.target_id, "quantity": quantity, "unit_cost": batch.unit_cost,
            "reason": "redemption_issue", "document_type": "points_redemptions",
            "document_id": self.redemption_id, "customer_id": customer_id, "event_id": None,
            "note": number, "reverses_id": None, "actor_id": self.clerk_id, "at": at})
        self.taken[product_id] += quantity
        self.n_redemptions += 1
        self.entry(customer_id, "redeemed", -price * quantity, at,
                   redemption_id=self.redemption_id, reason=number, actor_id=self.clerk_id)
        return price * quantity

    def flush(self):
        """What has been generated so far into the database (redemptions before the entries
        that name them, lots before their expiries)."""
        insert_chunks(pt.Redemption.__table__, self.redemptions)
        insert_chunks(inv.StockMove.__table__, self.moves)
        insert_chunks(pt.PointsEntry.__table__, self.entries)
        insert_chunks(pt.PointsAccount.__table__, self.accounts)
        db.session.commit()
        self.entries, self.redemptions, self.moves, self.accounts = [], [], [], []


def prizes_and_stock(manager):
    """The redeemable products (through the catalogue) and a batch of each."""
    products = []
    for sku, name, price, cost in PRIZES:
        products.append(inv.create_product(
            {"sku": sku, "name": name, "unit": "个", "for_sale": False, "redeemable": True,
             "points_price": price, "sale_price": 0, "standard_cost": cost,
             "category": "积分礼品"}, actor=manager))
    batches = {p.id: inv.find_or_make_batch(p, "JF2024", unit_cost=p.standard_cost)
               for p in products}
    db.session.commit()
    return products, batches


def build_points(n_customers, n_entries, expired_share, sample, seed=43):
    """Customers, the prizes, then the background history in bulk; then the stock the
    redemptions took, and a reserve, is received (dated before the history) and the balances
    lose what the redemptions took."""
    manager, _marketer, _phones = build(n_customers)
    clerk = accounts.create_user(username="counter", display_name="兑换台", password="bench2026x",
                                 roles=["warehouse"], actor=None)
    db.session.commit()
    products, batches = prizes_and_stock(manager)
    main = db.session.scalar(select(inv.Warehouse).where(inv.Warehouse.code == "MAIN"))
    source, target = inv.location_of(main), inv.outside("customer")
    rng = random.Random(seed)
    timeline = Timeline(utcnow(), company_zone(), expired_share)
    background = Background(timeline, [(p.id, p.points_price, p.standard_cost) for p in products],
                            batches, main.id, source.id, target.id, clerk.id, manager.id, rng)
    customers = db.session.execute(select(c.Customer.id, c.Customer.owner_id)
                                   .order_by(c.Customer.id)).all()
    kept = set(rng.sample([row.id for row in customers], min(sample, len(customers))))
    db.session.commit()
    for index, (customer_id, owner_id) in enumerate(customers):
        # Entries still wanted per customer left, less the share expiries have been adding.
        wanted = max(0, n_entries - background.entry_id) / (len(customers) - index)
        ratio = background.entry_id / background.n_steps if background.n_steps else 1.0
        steps = int(rng.expovariate(ratio / wanted) + 0.5) if wanted else 0
        background.n_steps += steps
        background.customer(customer_id, owner_id, steps, keep=customer_id in kept)
        if (index + 1) % BLOCK == 0:
            background.flush()
    background.flush()
    for product in products:
        wanted = background.taken[product.id] + RESERVE
        while wanted > 0:
            quantity = min(wanted, inv.stock.MAX_QUANTITY)
            inv.receive(product=product, quantity=quantity, warehouse=main, actor=manager,
                        batch_number="JF2024", unit_cost=product.standard_cost,
                        now=timeline.start - timedelta(days=1))
            wanted -= quantity
        db.session.execute(update(inv.StockQuant).where(
            inv.StockQuant.location_id == source.id, inv.StockQuant.product_id == product.id,
            inv.StockQuant.batch_id == batches[product.id].id).values(
            quantity=inv.StockQuant.quantity - background.taken[product.id]))
    db.session.commit()
    return timeline, background, products, main.id


def p95(values):
    return round(statistics.quantiles(values, n=20)[-1], 1)


def measure_balances(app, customer_ids, today):
    """`balance_of` alone, then with `expiring` as the pages show them, a fresh session each."""
    balance_ms, page_ms = [], []
    with app.app_context():
        for customer_id in customer_ids:
            db.session.remove()  # a fresh session each time, as a request gets
            started = time.perf_counter()
            pt.balance_of(customer_id)
            balance_ms.append((time.perf_counter() - started) * 1000)
            db.session.remove()
            started = time.perf_counter()
            pt.balance_of(customer_id)
            pt.expiring(customer_id, today)
            page_ms.append((time.perf_counter() - started) * 1000)
        db.session.remove()
    return p95(balance_ms), p95(page_ms)


def measure_redemptions(app, customer_ids, product_id, warehouse_id):
    """One redemption at the counter: the clerk read first, then BEGIN IMMEDIATE, load the
    customer, the product and the warehouse, redeem one, commit."""
    timings = []
    with app.app_context():
        for customer_id in customer_ids:
            db.session.remove()
            clerk = accounts.find_user_by_username("counter")
            clerk.has_role("warehouse")
            end_reads()
            started = time.perf_counter()
            begin_write()
            customer = db.session.get(c.Customer, customer_id)
            product = db.session.get(inv.Product, product_id)
            warehouse = db.session.get(inv.Warehouse, warehouse_id)
            redemption = redemptions.redeem(customer, [(product, 1)], warehouse=warehouse,
                                            actor=clerk, token=str(uuid.uuid4()))
            db.session.commit()
            timings.append((time.perf_counter() - started) * 1000)
            assert redemption.id and redemption.points == product.points_price
        db.session.remove()
    return p95(timings)


def expiry_run(app, timeline):
    """The nightly job: BEGIN IMMEDIATE, run_expiry at the run day, commit. (seconds, rows)"""
    with app.app_context():
        started = time.perf_counter()
        begin_write()
        written = pt.run_expiry(timeline.run_day, now=timeline.run_now)
        db.session.commit()
        elapsed = round(time.perf_counter() - started, 1)
        db.session.remove()
    return elapsed, written


def assert_ledgers():
    problems = check_ledgers()
    assert problems["points"] == [], problems["points"][:5]
    assert problems["stock"] == [], problems["stock"][:5]
    assert not any(problems.values()), {k: v[:5] for k, v in problems.items()}


def assert_lots(kept):
    """The bench's FIFO bookkeeping is what `points.lots` counts."""
    for customer_id, expected in kept.items():
        found = [(lot.id, left) for lot, left in pt.lots(customer_id)]
        assert found == expected, (customer_id, found, expected)
    db.session.rollback()


def due_now(customer_ids, run_day):
    """Lots holding points past their date at the run day, as `points.lots` counts them."""
    count = sum(1 for customer_id in customer_ids for lot, _left in pt.lots(customer_id)
                if lot.expires_on and lot.expires_on < run_day)
    db.session.rollback()
    return count


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=200000)
    parser.add_argument("--entries", type=int, default=2000000)
    parser.add_argument("--redeems", type=int, default=200)
    parser.add_argument("--balances", type=int, default=200)
    parser.add_argument("--expired-share", type=float, default=0.15,
                        help="share of the lots past their date at the run day")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-points-"))
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'bench.db'}",
                      "INSTANCE_DIR": str(folder), "SECRET_KEY": "bench",
                      "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    started = time.perf_counter()
    with app.app_context():
        upgrade()
        timeline, background, products, warehouse_id = build_points(
            args.customers, args.entries, args.expired_share, sample=300)
        build_s = round(time.perf_counter() - started, 1)
        note(f"built {background.entry_id} entries in {build_s} s ({folder})")
        started = time.perf_counter()
        assert_ledgers()
        check_ledgers_s = round(time.perf_counter() - started, 1)
        db.session.rollback()
        assert_lots(background.kept)
        entries = db.session.scalar(select(func.count()).select_from(pt.PointsEntry))
        assert entries == background.entry_id, (entries, background.entry_id)
        visited = db.session.scalar(select(func.count(func.distinct(pt.PointsEntry.customer_id)))
                                    .where(pt.PointsEntry.expires_on < timeline.run_day,
                                           pt.PointsEntry.points > 0))
        today = local_day(utcnow())
        cheapest_id, cheapest_price = min(((p.id, p.points_price) for p in products),
                                          key=lambda pair: pair[1])
        db.session.rollback()
    rng = random.Random(5)
    ids = sorted(background.balances)
    balance_p95, expiring_p95 = measure_balances(
        app, rng.sample(ids, min(args.balances, len(ids))), today)
    rich = [i for i in ids if background.balances[i] >= cheapest_price]
    redeemers = rng.sample(rich, min(args.redeems, len(rich)))
    redeem_p95 = measure_redemptions(app, redeemers, cheapest_id, warehouse_id)
    with app.app_context():
        # What the run must write: the bookkeeping's due lots, but for the customers who have
        # just redeemed (their oldest lots went first), counted again by points.lots.
        spent = set(redeemers)
        due = sum(n for i, n in background.due.items() if i not in spent) + \
            due_now(redeemers, timeline.run_day)
    note(f"balance p95 {balance_p95} ms, redeem p95 {redeem_p95} ms; expiry run of {due} "
         f"lots over {visited} customers...")
    expiry_s, written = expiry_run(app, timeline)
    note(f"expiry run {expiry_s} s, {written} rows; again...")
    rerun_s, rerun_rows = expiry_run(app, timeline)
    with app.app_context():
        assert written == due, (written, due)
        assert rerun_rows == 0, rerun_rows
        assert due_now(list(background.kept)[:100], timeline.run_day) == 0
        assert_ledgers()  # the measured redemptions and the expiry kept the books right
    print(json.dumps({
        "customers": args.customers, "entries": entries, "lots": background.n_lots,
        "lots_past_date_share": round(background.n_lots_passed / max(1, background.n_lots), 3),
        "background_redemptions": background.n_redemptions, "build_s": build_s,
        "check_ledgers_s": check_ledgers_s, "run_day": timeline.run_day.isoformat(),
        "balance_p95_ms": balance_p95, "balance_and_expiring_p95_ms": expiring_p95,
        "redeem_p95_ms": redeem_p95, "expiry_customers_visited": visited,
        "expiry_run_s": expiry_s, "expiry_rows": written, "rerun_s": rerun_s,
        "rerun_rows": rerun_rows}))


if __name__ == "__main__":
    main()
