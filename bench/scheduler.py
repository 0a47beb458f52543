"""Speed of the nightly scheduler (issue 12), on its own SQLite database built by the migrations.

    .venv/bin/python bench/scheduler.py [--customers 200000] [--orders 100000] [--events 100]
        [--marketers 100]

Builds N customers owned by 100 marketers (bench/customers.py) with birthdays (solar and lunar),
anniversaries and a year of follow-ups (the last contact spread over the past month, as where the
nightly pool reclaim has been running), 100 past events over the year with 500 invitations each
and their check-ins (one held yesterday), M orders over the year with their payments and arrears
(bench/orders.py; half the products carry "days one unit lasts"), and contact logs with planned
follow-ups. Then, measured: the full nightly run for today (every job, each in its own
transaction, as the scheduler runs them: `nightly_run_s`), a second run for the same day (each
job sees it already ran and writes 0 rows: `rerun_s`, `rerun_rows`), a forced third run (every job
scans again; the unique keys make it write 0 rows too, but for the RFM scores, which the rfm
job rewrites: `forced_rerun_s`, `forced_rerun_rows`), and a marketer's "Today" page through the
test client (`today_p95_ms`: p95 over the marketers, 100 of them, 3 rounds). Ends with one JSON
line of the figures.
"""
import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import func, insert, select, update  # noqa: E402

import jobs  # noqa: E402
from app import create_app  # noqa: E402
from customers import build, signed_in_client  # noqa: E402  (bench/customers.py)
from extensions import db  # noqa: E402
from formatting import local_day  # noqa: E402
from models import accounts, checkin as ci, customers as c, events as ev  # noqa: E402
from models import inventory as inv, tasks as t  # noqa: E402
from models.base import utcnow  # noqa: E402
from orders import add_orders  # noqa: E402  (bench/orders.py)

CHUNK = 10000


def insert_chunks(table, rows):
    for start in range(0, len(rows), CHUNK):
        db.session.execute(insert(table), rows[start:start + CHUNK])


def shape_customers(rng, now):
    """Birthdays, anniversaries, owners since a while, a last contact within the month."""
    ids = list(db.session.scalars(select(c.Customer.id)))
    for start in range(0, len(ids), CHUNK):
        rows = []
        for cid in ids[start:start + CHUNK]:
            row = {"b_id": cid, "owned_since": now - timedelta(days=rng.uniform(40, 400)),
                   "last_contact_at": now - timedelta(days=rng.uniform(0, 30.5)),
                   "birthday_kind": "", "birthday": None, "birth_year": None,
                   "birth_month": None, "lunar_month": None, "lunar_day": None,
                   "lunar_leap": False, "anniversary": None}
            kind = rng.random()
            year = rng.randint(1936, 1966)
            if kind < 0.45:
                born = date(year, 1, 1) + timedelta(days=rng.randrange(365))
                row.update(birthday_kind="solar", birthday=born, birth_year=year,
                           birth_month=born.month)
            elif kind < 0.65:
                row.update(birthday_kind="lunar", lunar_month=rng.randint(1, 12),
                           lunar_day=rng.randint(1, 29), birth_year=year)
            if rng.random() < 0.05:
                row["anniversary"] = date(rng.randint(1960, 1990), rng.randint(1, 12),
                                          rng.randint(1, 28))
            rows.append(row)
        table = c.Customer.__table__
        from sqlalchemy import bindparam
        db.session.execute(update(table).where(table.c.id == bindparam("b_id")), rows)
    db.session.commit()
    return ids


def past_events(rng, now, n_events, per_event, manager, staff):
    """Events over the past year (one yesterday), with invitations and check-ins in bulk."""
    customers = db.session.execute(select(c.Customer.id, c.Customer.owner_id).where(
        c.Customer.status == "active")).all()
    invitations, check_ins, event_rows = [], [], []
    next_invitation = 1
    for n in range(n_events):
        days_ago = 1 if n == 0 else rng.uniform(2, 365)
        starts = now - timedelta(days=days_ago)
        event_rows.append({"id": n + 1, "title": f"健康讲座第{n + 1}期", "kind": "lecture",
                           "venue": "幸福酒店", "address": "", "starts_at": starts,
                           "ends_at": starts + timedelta(hours=3), "capacity": per_event,
                           "department_id": None, "lecturer": "", "featured": "",
                           "status": "closed", "created_by_id": manager.id,
                           "created_at": starts - timedelta(days=20)})
        for customer_id, owner_id in rng.sample(customers, per_event):
            came = rng.random() < 0.6
            invitations.append({
                "id": next_invitation, "event_id": n + 1, "customer_id": customer_id,
                "inviter_id": owner_id, "status": "attended" if came else rng.choice(
                    ("no_show", "no_show", "declined")),
                "companions": 0, "note": "", "token": f"b{next_invitation:022d}",
                "table_id": None, "is_walk_in": False, "override_by_id": None,
                "override_reason": "", "created_at": starts - timedelta(days=10),
                "status_changed_at": starts})
            if came:
                check_ins.append({"invitation_id": next_invitation, "event_id": n + 1,
                                  "customer_id": customer_id, "companions": 0,
                                  "by_id": staff.id, "at": starts, "token": None})
            next_invitation += 1
    insert_chunks(ev.Event.__table__, event_rows)
    insert_chunks(ev.Invitation.__table__, invitations)
    insert_chunks(ci.CheckIn.__table__, check_ins)
    db.session.commit()
    return len(invitations), len(check_ins)


def contact_logs(rng, now, n_logs, today):
    owned = db.session.execute(select(c.Customer.id, c.Customer.owner_id).where(
        c.Customer.status == "active")).all()
    rows = []
    for _n in range(n_logs):
        customer_id, owner_id = rng.choice(owned)
        at = now - timedelta(days=rng.uniform(0, 365))
        planned = local_day(at) + timedelta(days=rng.randint(1, 30)) \
            if rng.random() < 0.2 else None
        rows.append({"customer_id": customer_id, "kind": "call", "content": "电话回访",
                     "outcome": "", "next_follow_up": planned, "actor_id": owner_id, "at": at})
    insert_chunks(c.ContactLog.__table__, rows)
    db.session.commit()
    return len(rows)


def nightly(app, day, force=False):
    started = time.perf_counter()
    written = {name: jobs.run_job(app, name, day, trigger="schedule", force=force)
               for name in jobs.JOBS}
    return round(time.perf_counter() - started, 1), written


def p95(values):
    return round(statistics.quantiles(values, n=20)[-1], 1)


def measure_today(app, rounds=3):
    with app.app_context():
        marketers = [u.username for u in db.session.scalars(select(accounts.User).where(
            accounts.User.username.like("m%")).order_by(accounts.User.id))]
        db.session.remove()
    timings, sizes = [], []
    for username in marketers:
        client = signed_in_client(app, username)
        client.get("/tasks/")  # warm
        for _round in range(rounds):
            started = time.perf_counter()
            response = client.get("/tasks/")
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.status_code
            sizes.append(len(response.data))
    return p95(timings), round(statistics.mean(sizes) / 1000)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=200000)
    parser.add_argument("--orders", type=int, default=100000)
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--per-event", type=int, default=500)
    parser.add_argument("--contacts", type=int, default=300000)
    parser.add_argument("--marketers", type=int, default=100)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-scheduler-"))
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'bench.db'}",
                      "INSTANCE_DIR": str(folder), "SECRET_KEY": "bench",
                      "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    rng = random.Random(12)
    started = time.perf_counter()
    with app.app_context():
        upgrade()
        manager, _marketer, _phones = build(args.customers, n_marketers=args.marketers)
        staff = accounts.create_user(username="door", display_name="会务", password="bench2026x",
                                     roles=["event_staff"], actor=None)
        db.session.commit()
        now = utcnow()
        today = local_day(now)
        shape_customers(rng, now)
        n_invitations, n_check_ins = past_events(rng, now, args.events, args.per_event, manager,
                                                 staff)
        n_orders, n_payments = add_orders(manager, args.orders, args.orders * 2, days=365)
        db.session.execute(update(inv.Product).where(inv.Product.id % 2 == 0)
                           .values(days_per_unit=30))
        db.session.commit()
        n_logs = contact_logs(rng, now, args.contacts, today)
        build_s = round(time.perf_counter() - started, 1)
        db.session.remove()
    nightly_s, first = nightly(app, today)
    rerun_s, second = nightly(app, today)
    forced_s, third = nightly(app, today, force=True)
    today_p95, page_kb = measure_today(app)
    with app.app_context():
        tasks_by_kind = dict(db.session.execute(
            select(t.Task.kind, func.count()).group_by(t.Task.kind)).all())
        pooled = db.session.scalar(select(func.count()).select_from(c.Customer).where(
            c.Customer.status == "pool"))
    print(json.dumps({
        "customers": args.customers, "events": args.events, "invitations": n_invitations,
        "check_ins": n_check_ins, "orders": n_orders, "payments": n_payments,
        "contact_logs": n_logs, "build_s": build_s, "nightly_run_s": nightly_s,
        "rows_written": sum(first.values()), "per_job": first, "rerun_s": rerun_s,
        "rerun_rows": sum(second.values()), "forced_rerun_s": forced_s,
        "forced_rerun_rows": sum(third.values()), "today_p95_ms": today_p95,
        "today_page_kb": page_kb, "tasks_by_kind": tasks_by_kind,
        "customers_in_pool": pooled}, ensure_ascii=False))


if __name__ == "__main__":
    main()
