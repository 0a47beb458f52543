"""Speed of the printed reports (issue 13), on its own SQLite database built by the migrations.

    .venv/bin/python bench/report_pdfs.py [--customers 100000] [--orders 100000] [--events 300]
        [--marketers 200] [--db FILE] [--only company] [--repeat N]

Builds customers owned by 200 marketers in 10 departments (bench/customers.py makes 100; 100
more join the same departments and take half of the customers), 300 past events over the year
with their invitations and check-ins (bench/scheduler.py), 100,000 orders over the year with
their payments and the goods' stock moves (bench/orders.py; the orders of customers who came to
the measured event are credited to it), and the event's costs. Measured: the department report
of all 200 marketers for a year gathered and rendered to PDF, one event's ROI report gathered and
rendered to PDF, and gather() of the company summary for a year (`dept_pdf_200_s`,
`event_roi_pdf_s`, `company_gather_s`). Ends with one JSON line. --marketers sets how many there
are (half made as bench/customers.py makes them, half joining); at least 4 events are needed (the
measured one is the fourth most recent).

`--db FILE` builds the database into FILE, or reuses FILE when it exists (no build);
`--only company` measures only the company summary's gather(), `--repeat N` times (the median
is reported, with every run), for profiling it on a machine others share.
"""
import statistics
import argparse
import io
import json
import random
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from flask_migrate import upgrade  # noqa: E402
from pypdf import PdfReader  # noqa: E402
from sqlalchemy import func, select, update  # noqa: E402

from app import create_app  # noqa: E402
from customers import build  # noqa: E402  (bench/customers.py)
from extensions import db  # noqa: E402
from formatting import local_day  # noqa: E402
from models import accounts, checkin as ci, customers as c, events as ev, orders as o  # noqa: E402
from models.base import utcnow  # noqa: E402
from orders import add_orders  # noqa: E402  (bench/orders.py)
from scheduler import past_events  # noqa: E402  (bench/scheduler.py)


def more_marketers(n, rng):
    """n more marketers in the same 10 departments, each taking customers from the first 100."""
    departments = list(db.session.scalars(select(accounts.Department).where(
        accounts.Department.parent_id.is_not(None)).order_by(accounts.Department.id)))
    added = [accounts.create_user(username=f"m{100 + i}", display_name=f"业务员{100 + i}",
                                  password="bench2026x", roles=["marketer"],
                                  department=departments[i % len(departments)], actor=None)
             for i in range(n)]
    db.session.commit()
    ids = list(db.session.scalars(select(c.Customer.id).where(c.Customer.owner_id.is_not(None))))
    rng.shuffle(ids)
    half = ids[:len(ids) // 2]
    for i, marketer in enumerate(added):
        chunk = half[i::n]
        for start in range(0, len(chunk), 5000):
            db.session.execute(update(c.Customer).where(c.Customer.id.in_(chunk[start:start + 5000]))
                               .values(owner_id=marketer.id,
                                       department_id=marketer.department_id))
    db.session.commit()


def credit_event(event_id):
    """The orders of the customers who came to the event are deals made there."""
    came = select(ci.CheckIn.customer_id).where(ci.CheckIn.event_id == event_id)
    db.session.execute(update(o.Order).where(o.Order.customer_id.in_(came))
                       .values(event_id=event_id))
    for kind, amount in (("venue", 800000), ("meals", 450000), ("transport", 120000),
                         ("staff", 200000)):
        db.session.add(ev.EventCost(event_id=event_id, kind=kind, amount_fen=amount))
    db.session.commit()


def timed(func_):
    started = time.perf_counter()
    result = func_()
    return result, round(time.perf_counter() - started, 2)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100000)
    parser.add_argument("--orders", type=int, default=100000)
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--per-event", type=int, default=200)
    parser.add_argument("--marketers", type=int, default=200)
    parser.add_argument("--db", help="build into this SQLite file, or reuse it when it exists")
    parser.add_argument("--only", choices=("company",))
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--save", metavar="DIR",
                        help="also write the two PDFs there, to look at (pdftoppm)")
    args = parser.parse_args()
    database = Path(args.db).resolve() if args.db else \
        Path(tempfile.mkdtemp(prefix="bench-reports-")) / "bench.db"
    reuse = database.exists()
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}",
                      "INSTANCE_DIR": str(database.parent), "SECRET_KEY": "bench",
                      "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    if reuse:
        with app.app_context():
            manager_id = db.session.scalar(select(accounts.User.id).where(
                accounts.User.username == "boss"))
            marketers = db.session.scalar(select(func.count()).select_from(accounts.User)
                                          .where(accounts.User.username.like("m%")))
            n_orders = db.session.scalar(select(func.count()).select_from(o.Order))
            n_payments = db.session.scalar(select(func.count()).select_from(o.Payment))
        return measure(app, args, manager_id, build_s=0, marketers=marketers,
                       n_orders=n_orders, n_payments=n_payments, event_id=None)
    rng = random.Random(13)
    started = time.perf_counter()
    with app.app_context():
        upgrade()
        manager, _marketer, _phones = build(args.customers, n_marketers=args.marketers // 2)
        more_marketers(args.marketers - args.marketers // 2, rng)
        staff = accounts.create_user(username="door", display_name="会务", password="bench2026x",
                                     roles=["event_staff"], actor=None)
        db.session.commit()
        now = utcnow()
        past_events(rng, now, args.events, args.per_event, manager, staff)
        n_orders, n_payments = add_orders(manager, args.orders, args.orders * 2, days=365)
        event_id = db.session.scalar(select(ev.Event.id).order_by(ev.Event.starts_at.desc())
                                     .offset(3).limit(1))
        credit_event(event_id)
        build_s = round(time.perf_counter() - started, 1)
        marketers = db.session.scalar(select(func.count()).select_from(accounts.User).where(
            accounts.User.username.like("m%")))
        manager_id = manager.id
        db.session.remove()
    measure(app, args, manager_id, build_s=build_s, marketers=marketers, n_orders=n_orders,
            n_payments=n_payments, event_id=event_id)


def measure(app, args, manager_id, *, build_s, marketers, n_orders, n_payments, event_id):
    from reports import event_roi, performance
    from reports.params import parse
    with app.test_request_context():
        boss = db.session.get(accounts.User, manager_id)
        today = local_day(utcnow())
        year = {"start": (today - timedelta(days=364)).isoformat(), "end": today.isoformat()}
        params = parse(year, boss)
        if args.only == "company":
            runs, cpu = [], []
            for _n in range(args.repeat):
                db.session.expunge_all()
                started_cpu = time.process_time()
                _company, seconds = timed(lambda: performance.gather_company(params))
                runs.append(seconds)
                cpu.append(round(time.process_time() - started_cpu, 2))
            # CPU seconds beside the wall clock: on a shared machine they say what the query
            # costs when the wall clock mostly says how busy the neighbours are.
            print(json.dumps({"company_gather_s": statistics.median(runs),
                              "company_gather_runs": runs,
                              "company_gather_cpu_s": statistics.median(cpu)}))
            return
        if event_id is None:
            event_id = db.session.scalar(select(ev.Event.id).order_by(ev.Event.starts_at.desc())
                                         .offset(3).limit(1))
        department_data, dept_gather_s = timed(lambda: performance.gather(params))
        pdf, dept_pdf_s = timed(lambda: performance.build(department_data,
                                                          printed_by=boss.display_name))
        dept_pdf_s = round(dept_gather_s + dept_pdf_s, 2)
        dept_pages = len(PdfReader(io.BytesIO(pdf)).pages)
        _company, company_gather_s = timed(lambda: performance.gather_company(params))
        event_params = parse({**year, "event": event_id}, boss)
        roi, roi_gather_s = timed(lambda: event_roi.gather(event_params))
        roi_pdf, roi_pdf_s = timed(lambda: event_roi.build(roi))
        if args.save:
            Path(args.save).mkdir(parents=True, exist_ok=True)
            (Path(args.save) / "department.pdf").write_bytes(pdf)
            (Path(args.save) / "event-roi.pdf").write_bytes(roi_pdf)
    print(json.dumps({"marketers": marketers, "customers": args.customers, "orders": n_orders,
                      "payments": n_payments, "events": args.events, "build_s": build_s,
                      "dept_rows": len(department_data["rows"]), "dept_pages": dept_pages,
                      "dept_gather_s": dept_gather_s, "dept_pdf_200_s": dept_pdf_s,
                      "event_roi_gather_s": roi_gather_s,
                      "event_roi_pdf_s": round(roi_gather_s + roi_pdf_s, 2),
                      "company_gather_s": company_gather_s}))


if __name__ == "__main__":
    main()
