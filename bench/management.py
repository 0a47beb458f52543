"""Speed of the management tools (issue 27): the monthly commission run, the 考核表 in print and
the manager's home page, on its own SQLite database built by the migrations.

    .venv/bin/python bench/management.py [--customers 200000] [--marketers 500]
        [--orders 500000] [--payments 1000000] [--pdf-marketers 200] [--late 1000]
        [--home-requests 50] [--db FILE]

Builds the customers of bench/customers.py (Faker zh_CN) owned by N marketers in 10
departments, each registered by a "create" ownership change (15 % of them registered by another
marketer and handed over since: their developer earns a share), 100 products in 5 categories
(two with a rate of their own), then the orders over the last year with 1–2 lines each and the
payments (deposits, balance and full payments: M of them; 2 % of the paid orders refunded in
part later), written in bulk (Core inserts, not the ORM row by row), and a money collected
target of last month for every marketer. Then, as finance in-process: the run of the month
before last (the first run, `commission_first_run_s`), its approval (`commission_approve_s`),
--late payments entered now but dated in that locked month, and the run of last month for all
marketers — what a month's close costs (`commission_run_s`, asked ≤ 60 s; its late lines are
counted in `late_lines`); the 考核表 of last month for --pdf-marketers marketers gathered and
rendered to PDF (`assessment_pdf_200_s`, asked ≤ 30 s; `assessment_pages`); and, when the app
has a `main.index` page, the manager's home page over the test client, p95 of
--home-requests requests (`home_manager_p95_ms`, asked ≤ 300 ms; null when there is no such
page) and a department head's (`home_head_p95_ms`), after the nightly run has kept the closed
days' figures (`day_figures_s`, its re-run `day_figures_rerun_s`). Ends with one JSON line of
the figures.

`--db FILE` builds the database into FILE, or reuses FILE when it exists (its commission runs
and the late payments of a previous measure are removed first).
"""
import argparse
import io
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
from pypdf import PdfReader  # noqa: E402
from sqlalchemy import delete, func, insert, select  # noqa: E402

from app import create_app  # noqa: E402
from customers import build, signed_in_client  # noqa: E402  (bench/customers.py)
from extensions import db  # noqa: E402
from formatting import local_day  # noqa: E402
from models import accounts, activity, commission as cm, customers as c, inventory as inv  # noqa: E402
from models import orders as o, targets as tg  # noqa: E402
from models.base import utcnow  # noqa: E402

CHUNK = 5000
CATEGORIES = ("保健品", "器械", "食品", "日用品", "礼盒")
METHODS = ("cash", "wechat", "wechat", "alipay", "card", "transfer")
#: Share of the customers registered by another marketer than their owner now.
HANDED_OVER = 0.15
REFUNDED = 0.02
LATE_REFERENCE = "bench-late"


def insert_chunks(table, rows):
    for start in range(0, len(rows), CHUNK):
        db.session.execute(insert(table), rows[start:start + CHUNK])


def registrations(rng, marketer_ids):
    """A "create" ownership change for every customer (and a transfer for those registered by
    another marketer than their owner): who developed whom."""
    changes = []
    for customer_id, owner_id, created in db.session.execute(
            select(c.Customer.id, c.Customer.owner_id, c.Customer.created_at)):
        first = owner_id or rng.choice(marketer_ids)
        if owner_id is not None and rng.random() < HANDED_OVER:
            first = rng.choice(marketer_ids)
        changes.append({"customer_id": customer_id, "kind": "create", "from_owner_id": None,
                        "to_owner_id": first, "reason": "", "actor_id": first, "at": created})
        if first != owner_id:
            changes.append({"customer_id": customer_id, "kind": "transfer" if owner_id
                            else "release", "from_owner_id": first, "to_owner_id": owner_id,
                            "reason": "交接", "actor_id": None,
                            "at": created + timedelta(days=1)})
    insert_chunks(c.OwnershipChange.__table__, changes)
    db.session.commit()


def catalogue(manager, rng):
    """100 products in 5 categories; 保健品 at 5 % and 器械 at 2 % (the rest at the default)."""
    products = [inv.create_product({"sku": f"P{i:03d}", "name": f"{CATEGORIES[i % 5]}{i}号",
                                    "unit": "盒", "for_sale": True,
                                    "sale_price": rng.randrange(98, 2980) * 100,
                                    "standard_cost": 3000, "category": CATEGORIES[i % 5]},
                                   actor=manager) for i in range(100)]
    db.session.flush()
    categories = {p.category.name: p.category_id for p in products}
    cm.save_rules(default_bp=300, tiers="0:80, 80:100, 120:120", developer_bp=100,
                  developer_months=12, bonus_yuan=20, deduction_yuan=10,
                  rates={("category", categories["保健品"]): 500,
                         ("category", categories["器械"]): 200}, actor=manager)
    db.session.commit()
    return [(p.id, p.sale_price) for p in products]


def sales(rng, n_orders, n_payments, prices, finance_id, manager_id, now):
    """N orders over the last year, their lines and M receipts (each order paid in 1–k parts,
    within 60 days of the order), 2 % of the paid orders refunded in part, in chunks. Returns
    (orders, payments written)."""
    marketers = dict(db.session.execute(select(accounts.User.id, accounts.User.department_id)
                                        .where(accounts.User.username.like("m%"))).all())
    marketer_ids = sorted(marketers)
    customers = db.session.execute(select(c.Customer.id, c.Customer.owner_id)).all()
    counts = [0] * n_orders
    for _n in range(n_payments):
        counts[rng.randrange(n_orders)] += 1
    written = 0
    for first in range(0, n_orders, CHUNK):
        order_rows, line_rows, payment_rows = [], [], []
        for order_id in range(first + 1, min(first + CHUNK, n_orders) + 1):
            customer_id, owner_id = rng.choice(customers)
            marketer_id = owner_id or rng.choice(marketer_ids)
            created = now - timedelta(days=rng.uniform(0, 365))
            total = 0
            for _line in range(rng.choice((1, 1, 2))):
                product_id, price = rng.choice(prices)
                quantity = rng.choice((1, 1, 2, 3, 6))
                discount = min(rng.choice((0, 0, 50, 100)) * 100, quantity * price // 5)
                total += quantity * price - discount
                line_rows.append({"order_id": order_id, "product_id": product_id,
                                  "package_id": None, "quantity": quantity,
                                  "unit_price": price, "list_price": price,
                                  "discount": discount, "taken": 0, "held": quantity,
                                  "returned": 0})
            parts = min(counts[order_id - 1], max(1, total // 100 - 1))
            paid, moments = 0, []
            if parts:
                latest = min(now - timedelta(minutes=5), created + timedelta(days=60))
                span = (latest - created).total_seconds()
                moments = sorted(created + timedelta(seconds=rng.uniform(0, span))
                                 for _p in range(parts))
                whole = total // 100
                paid_yuan = whole if rng.random() < 0.65 or whole <= parts else \
                    max(parts, int(whole * rng.uniform(0.2, 0.9)))
                cuts = sorted(rng.sample(range(1, paid_yuan), parts - 1)) if parts > 1 else []
                amounts = [(b - a) * 100 for a, b in zip([0, *cuts], [*cuts, paid_yuan])]
                for number, (amount, at) in enumerate(zip(amounts, moments)):
                    kind = ("full" if parts == 1 and amount == total else "deposit") \
                        if number == 0 else "balance"
                    payment_rows.append({
                        "order_id": order_id, "kind": kind, "method": rng.choice(METHODS),
                        "amount": amount, "reference": "", "reason": "",
                        "cashier_id": finance_id if rng.random() < 0.3 else marketer_id,
                        "approved_by_id": None, "at": at, "recorded_at": at,
                        "reverses_id": None, "return_id": None, "token": None})
                paid = sum(amounts)
                if rng.random() < REFUNDED and paid > 100:
                    at = min(now - timedelta(minutes=1),
                             moments[-1] + timedelta(days=rng.uniform(1, 90)))
                    back = rng.randrange(1, paid // 100) * 100
                    payment_rows.append({
                        "order_id": order_id, "kind": "refund", "method": "cash",
                        "amount": -back, "reference": "", "reason": "顾客退款",
                        "cashier_id": finance_id, "approved_by_id": manager_id, "at": at,
                        "recorded_at": at, "reverses_id": None, "return_id": None,
                        "token": None})
                    paid -= back
            order_rows.append({
                "id": order_id, "number": f"XS{local_day(created):%Y%m%d}-{order_id:06d}",
                "customer_id": customer_id, "marketer_id": marketer_id,
                "department_id": marketers[marketer_id], "channel": "store",
                "event_id": None, "check_in_id": None, "warehouse_id": None, "status": "open",
                "total": total, "list_total": total, "returned_value": 0, "paid": paid,
                "balance_due": total - paid,
                "due_date": local_day(created) + timedelta(days=30), "note": "",
                "created_by_id": marketer_id, "created_at": created, "token": None})
        insert_chunks(o.Order.__table__, order_rows)
        insert_chunks(o.OrderLine.__table__, line_rows)
        insert_chunks(o.Payment.__table__, payment_rows)
        written += len(payment_rows)
        db.session.commit()
    return n_orders, written


def targets(rng, month, manager_id):
    """A money collected target of `month` for every marketer: about what they collect."""
    since, until = cm.month_bounds(month)
    collected = dict(db.session.execute(
        select(o.Order.marketer_id, func.sum(o.Payment.amount))
        .join(o.Order, o.Order.id == o.Payment.order_id)
        .where(o.Payment.at >= since, o.Payment.at < until, o.Payment.kind != "refund")
        .group_by(o.Order.marketer_id)).all())
    rows = [{"scope": "marketer", "subject_id": marketer_id, "period": "month",
             "starts_on": month, "figure": "collections",
             "value": max(100, int(amount * rng.uniform(0.7, 1.4))), "set_by_id": manager_id,
             "set_at": utcnow()} for marketer_id, amount in collected.items()]
    insert_chunks(tg.Target.__table__, rows)
    db.session.commit()


def late_payments(rng, n, month, finance_id, now):
    """n payments entered now, dated in the locked `month` (balance payments of orders taken
    before it that still owe money)."""
    since, until = cm.month_bounds(month)
    owing = db.session.execute(select(o.Order.id, o.Order.balance_due).where(
        o.Order.balance_due > 100, o.Order.created_at < since).limit(n)).all()
    rows = []
    for order_id, due in owing:
        at = since + (until - since) * rng.uniform(0.1, 0.9)
        rows.append({"order_id": order_id, "kind": "balance", "method": "transfer",
                     "amount": 100, "reference": LATE_REFERENCE, "reason": "",
                     "cashier_id": finance_id, "approved_by_id": None, "at": at,
                     "recorded_at": now, "reverses_id": None, "return_id": None,
                     "token": None})
    insert_chunks(o.Payment.__table__, rows)
    for order_id, _due in owing:  # the order's cached paid follows its ledger
        order = db.session.get(o.Order, order_id)
        order.paid += 100
        order.balance_due -= 100
    db.session.commit()
    return len(rows)


def timed(work):
    started = time.perf_counter()
    result = work()
    return result, round(time.perf_counter() - started, 2)


def p95_ms(client, path, n):
    times = []
    for _n in range(n + 3):
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    times = times[3:]  # warmed up
    return round(statistics.quantiles(times, n=20)[-1], 1) if len(times) >= 2 else \
        round(times[0], 1)


def main():
    parser = argparse.ArgumentParser(description="Commission run, 考核表 PDF, manager's home.")
    parser.add_argument("--customers", type=int, default=200000)
    parser.add_argument("--marketers", type=int, default=500)
    parser.add_argument("--orders", type=int, default=500000)
    parser.add_argument("--payments", type=int, default=1000000)
    parser.add_argument("--pdf-marketers", type=int, default=200,
                        help="marketers on the 考核表 measured")
    parser.add_argument("--late", type=int, default=1000,
                        help="payments entered late, dated in the locked month")
    parser.add_argument("--home-requests", type=int, default=50)
    parser.add_argument("--db", help="build into this SQLite file, or reuse it when it exists")
    args = parser.parse_args()
    database = Path(args.db).resolve() if args.db else \
        Path(tempfile.mkdtemp(prefix="bench-management-")) / "bench.db"
    reuse = database.exists()
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}",
                      "INSTANCE_DIR": str(database.parent), "SECRET_KEY": "bench",
                      "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    rng = random.Random(27)
    started = time.perf_counter()
    now = utcnow()
    last = cm.previous_month(local_day(now).replace(day=1))
    first = cm.previous_month(last)
    with app.app_context():
        if reuse:
            upgrade()  # a file built by an older checkout: brought to this schema first
            db.session.execute(delete(cm.CommissionLine))
            db.session.execute(delete(cm.CommissionRun))
            for payment in db.session.scalars(select(o.Payment).where(
                    o.Payment.reference == LATE_REFERENCE)):  # their orders as they were
                payment.order.paid -= payment.amount
                payment.order.balance_due += payment.amount
            db.session.execute(delete(o.Payment).where(o.Payment.reference == LATE_REFERENCE))
            db.session.commit()
            n_orders = db.session.scalar(select(func.count()).select_from(o.Order))
            n_payments = db.session.scalar(select(func.count()).select_from(o.Payment))
        else:
            upgrade()
            manager, _marketer, _phones = build(args.customers, n_marketers=args.marketers)
            accounts.create_user(username="cashier", display_name="财务", password="bench2026x",
                                 roles=["finance"], actor=None)
            db.session.commit()
            marketer_ids = list(db.session.scalars(select(accounts.User.id).where(
                accounts.User.username.like("m%"))))
            registrations(rng, marketer_ids)
            prices = catalogue(manager, rng)
            finance_id = db.session.scalar(select(accounts.User.id).where(
                accounts.User.username == "cashier"))
            n_orders, n_payments = sales(rng, args.orders, args.payments, prices, finance_id,
                                         manager.id, now)
            targets(rng, last, manager.id)
        build_s = round(time.perf_counter() - started, 1)
        db.session.remove()
    figures = {"customers": args.customers, "marketers": args.marketers, "orders": n_orders,
               "payments": n_payments, "build_s": build_s}
    figures.update(measure(app, args, rng, first, last))
    print(json.dumps(figures, ensure_ascii=False))


def measure(app, args, rng, first, last):
    from reports import assessment
    with app.test_request_context():
        finance = db.session.scalar(select(accounts.User).where(
            accounts.User.username == "cashier"))
        boss = db.session.scalar(select(accounts.User).where(accounts.User.username == "boss"))
        run, first_s = timed(lambda: cm.compute_run(first, actor=finance))
        db.session.commit()
        _run, approve_s = timed(lambda: cm.approve_run(first, actor=finance))
        db.session.commit()
        late = late_payments(rng, args.late, first, finance.id, utcnow())
        run, run_s = timed(lambda: cm.compute_run(last, actor=finance))
        db.session.commit()
        lines = db.session.scalar(select(func.count()).select_from(cm.CommissionLine).where(
            cm.CommissionLine.run_id == run.id))
        late_lines = db.session.scalar(select(func.count()).select_from(cm.CommissionLine)
                                       .where(cm.CommissionLine.run_id == run.id,
                                              cm.CommissionLine.is_late))
        marketers = cm.marketers_seen(boss)[:args.pdf_marketers]

        def assessment_pdf():
            data = assessment.gather(boss, last, marketers)
            return assessment.build(data, printed_by=boss.display_name)
        pdf, pdf_s = timed(assessment_pdf)
        pages = len(PdfReader(io.BytesIO(pdf)).pages)
        db.session.remove()
    with app.test_request_context():
        # The nightly run keeps the figures of the closed days (jobs/figures.py): the home
        # pages read them and sum only today from the ledgers.
        today = local_day(utcnow())
        _rows, figures_s = timed(lambda: activity.fill_days(today))
        db.session.commit()
        _rows, figures_rerun_s = timed(lambda: activity.fill_days(today))
        db.session.commit()
        if accounts.find_user_by_username("head") is None:  # a head of one department
            department = db.session.get(accounts.User, db.session.scalar(select(
                accounts.User.id).where(accounts.User.username == "m1"))).department
            accounts.create_user(username="head", display_name="部门主管", password="bench2026x",
                                 roles=["dept_head"], department=department, actor=None)
            db.session.commit()
        db.session.remove()
    home = head = None
    if "main.index" in app.view_functions:
        home = p95_ms(signed_in_client(app, "boss"), "/", args.home_requests)
        head = p95_ms(signed_in_client(app, "head"), "/", args.home_requests)
    return {"day_figures_s": figures_s, "day_figures_rerun_s": figures_rerun_s,
            "home_head_p95_ms": head,
            "commission_first_run_s": first_s, "commission_approve_s": approve_s,
            "late_payments": late, "commission_run_s": run_s, "run_lines": lines,
            "late_lines": late_lines, "assessment_marketers": len(marketers),
            "assessment_pdf_200_s": pdf_s, "assessment_pages": pages,
            "home_manager_p95_ms": home}


if __name__ == "__main__":
    main()
