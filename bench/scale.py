"""A company ten times bigger (issue 29): two million customers on PostgreSQL.

    .venv/bin/python bench/scale.py --build [--scale 1.0] [--database hxt_scale]
    .venv/bin/python bench/scale.py --measure [--database hxt_scale] [--url http://HOST:PORT]

`--build` (re)creates the database on the PostgreSQL server of `--server` (default
BENCH_DATABASE_URL's, else the local postgresql+psycopg://postgres@127.0.0.1:5432), migrates
it to this checkout's schema (the migrations, as `flask db upgrade` runs them) and fills it
with binary COPY, the rows made by Python generators, at --scale times: 2,000,000 customers;
100 departments and 2,000 marketers (a few own many customers; one department has 200
marketers); 5,000 events over three years with 2,000,000 invitations and 1,200,000 check-ins
(an attendance gift each), and an event today with 2,000 guests still to come; 3,000,000
orders (most customers 0–3, a long tail dozens, one customer 50) with 6,000,000 lines and
about 5,000,000 payments (most paid, some owing); 8,000,000 stock moves (sales, custody,
gifts, transfers) over 2,000 batches; 3,000,000 points entries; 1,000,000 custody entries
(deposits, pickups); 5,000,000 tasks. The ledgers agree as `flask check-ledgers` checks them:
an order's total is its lines, paid its payments, the balance the rest; stock on hand is the
sum of the moves; the custody shelf holds what customers hold; points balances are their
entries; each gift issue is its moves. While the rows go in, the indexes and unique
constraints other than primary keys are dropped (built again after, two at a time) and
foreign keys are not checked row by row (the rows are made consistent; the test checks every
key); then the sequences are reset and the database analysed. `build(url, scale)` is the same
build for a test (tests/test_scale_build.py builds a thousandth and checks its ledgers).

`--measure` serves the built database with gunicorn as `make run-pg` does
(deploy/gunicorn.conf.py, 4 workers, DATABASE_URL at the database; `--url`: measure a server
already answering there, nothing started). Where the server runs without autovacuum (this
machine's, set up for the tests) it first vacuums as autovacuum would have after the last
night (`vacuum_s`); the server's shared_buffers, autovacuum, max_wal_size and
checkpoint_timeout are printed with the figures (`pg_*`).
It signs in as the manager, the marketer with the most open tasks, the marketer with the fewest
open tasks at or above 3,000 and the door, and measures over HTTP, p95 of --requests each: the
search box (name, initials, phone tail) as the busiest marketer and as the manager
(`search_p95_ms`), the page of a customer with 50 orders (`customer_page_p95_ms`), the customer
list page 1 and page 500 of grade A (`list_p95_ms`), "Today" of the 3,000-task marketer
(`today_p95_ms`; the busiest's beside it, `today_busiest_p95_ms`), the manager's home
(`home_p95_ms`), the arrears list (`arrears_p95_ms`), today's event's invitation list and the
door's guest list (roster) of a door event made for the run (`invitations_p95_ms`), and that
door's guests checked in through the tablets' queue by 8 clients (`queue_checkins_per_s`), with
the CPU each check-in cost, in milliseconds, in the app's workers, the database server's
processes and this script's clients (`queue_app_cpu_ms`, `queue_db_cpu_ms`,
`queue_client_cpu_ms`, read from /proc; null where it cannot be read) and the rate those
allow on this machine's cores were they all busy (`queue_cpu_bound_per_s`). The machine's
speed before and after the measure (`cpu_reference_ms`: a fixed pure-Python loop, median of 5).
Then in process: the nightly jobs of one night — today's, or the day after the last night
run when a measure before this one ran today's (next_night: each measure times a night's
first run) — and a forced rerun of that night, everything already written (`nightly_s`,
`nightly_rerun_s`, `night`); the company
summary's gather for last month (`company_gather_s`); the performance PDF of the department
with the most marketers (`dept_pdf_200_s`, 200 at scale 1); the export of every customer,
worked by a worker process (`export_2m_s`, `export_peak_rss_mb`). Ends with one JSON line.
`--drop` drops the database at the end.
"""
import argparse
import contextlib
import http.client
import http.cookiejar
import http.cookies
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from bisect import bisect_left
from datetime import date, datetime, timedelta, timezone
from itertools import accumulate
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import psycopg  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import event, func, select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

import jobs  # noqa: E402
from app import create_app  # noqa: E402
from checkin import Guest, door_event, queue_answered, queue_request  # noqa: E402  (bench/)
from customers import (bench_app, export_all, export_in_background,  # noqa: E402  (bench/)
                       signed_in_client)
from extensions import db  # noqa: E402
from models import accounts, customers as c, inventory as inv  # noqa: E402
from models.base import utcnow  # noqa: E402
from models.clock import local_day  # noqa: E402
from models.customers import pinyin_of  # noqa: E402
from models.tasks import JobRun  # noqa: E402
from reports import performance  # noqa: E402
from reports.params import Params  # noqa: E402

#: The server the database is built on (its database part is replaced by --database).
SERVER = os.environ.get("BENCH_DATABASE_URL",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
PASSWORD = "bench2026x"
#: At scale 1 (issue 29 §1).
SIZES = {"customers": 2_000_000, "departments": 100, "marketers": 2000, "events": 5000,
         "invitations": 2_000_000, "orders": 3_000_000, "batches": 2000, "transfers": 500_000,
         "tasks": 5_000_000, "products": 100}
#: Whatever the scale: today's event, the customer with 50 orders, the department of 200.
GUESTS_TODAY = 2000
ORDERS_OF_ONE = 50
#: Today is measured for a marketer with at least this many open tasks (issue 29 §2).
TODAY_TASKS = 3000
BIG_DEPARTMENT = 200
YEARS = 3
#: Tables the bulk goes into: their secondary indexes are dropped during COPY.
BULK = ("customers", "customer_name_parts", "events", "invitations", "check_ins", "orders",
        "order_lines", "payments", "stock_moves", "custody_entries", "custody_pickups",
        "points_entries", "gift_issues", "tasks", "user_roles", "users")
#: The tables whose indexes take longest to build: started first.
BIGGEST = ("stock_moves", "order_lines", "tasks", "payments", "orders")

SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶"
            "程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史黎")
GIVEN = ("秀兰英华玉珍桂芳淑敏丽凤红梅霞琴云莲翠兰秀芬荣建国明军伟强平刚志文辉林海春生德福"
         "宝财金山永庆长兴发成利家宏伟杰涛斌波勇峰磊超鹏飞静燕娟艳萍慧颖丹洁琳雪晶婷媛佳倩欣怡"
         "振东立新忠诚义仁礼智信和顺安泰康宁瑞祥嘉庆红霞学良世昌少华树林桂兰凤英玉兰淑珍")
PRODUCT_NAMES = ("灵芝孢子粉", "深海鱼油", "氨基酸口服液", "钙片", "蛋白粉", "螺旋藻", "蜂胶",
                 "葡萄籽", "维生素", "益生菌")
METHODS = ("cash", "wechat", "wechat", "alipay", "card", "transfer")
TASK_KINDS = ("callback", "no_buy", "no_show", "birthday", "arrears", "repurchase",
              "follow_up", "pickup")


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def conninfo(url):
    """A libpq connection string of a SQLAlchemy URL."""
    url = make_url(url)
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def sizes_at(scale):
    sized = {k: max(1, round(v * scale)) for k, v in SIZES.items()}
    sized["departments"] = max(2, sized["departments"])
    sized["marketers"] = max(BIG_DEPARTMENT // 20 + 2, sized["marketers"])
    sized["products"] = max(10, sized["products"])
    sized["batches"] = max(sized["products"] + 1, sized["batches"])
    return sized


# --- The database and its skeleton (through the app) -------------------------------------------

def recreate(url):
    """Drop the database of `url` if it exists, create it empty."""
    target = make_url(url)
    with psycopg.connect(conninfo(target.set(database="postgres")), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{target.database}"')


def skeleton(url, sizes, rng, now):
    """Migrate, then what the bulk refers to, through the app's own operations: departments,
    the people who are not marketers, a second warehouse, the products. Returns a dict of ids."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": False})
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        hq = accounts.create_department("总部", actor=None, now=now)
        departments = [accounts.create_department(f"销售{i}部", parent=hq, actor=None, now=now)
                       for i in range(1, sizes["departments"])]
        people = {}
        for username, name, roles, department in (
                ("boss", "老板", ["manager"], hq), ("admin", "管理员", ["admin"], hq),
                ("door", "会务", ["event_staff"], hq), ("cashier", "财务", ["finance"], hq)):
            people[username] = accounts.create_user(
                username=username, display_name=name, password=PASSWORD, roles=roles,
                department=department, actor=None, now=now).id
        c.ensure_default_channels()
        store = inv.create_warehouse({"code": "W2", "name": "门店仓", "kind": "store"},
                                     actor=None, now=now)
        products = []
        for i in range(sizes["products"]):
            cost = rng.randrange(20, 600) * 100
            product = inv.create_product(
                {"sku": f"P{i:03d}", "name": f"{PRODUCT_NAMES[i % 10]}{i // 10 + 1}号",
                 "unit": "盒", "for_sale": True, "sale_price": cost * rng.choice((2, 3, 3, 4)),
                 "standard_cost": cost}, actor=None, now=now)
            products.append(product)
        gift = inv.create_product({"sku": "GIFT", "name": "养生杯", "unit": "个",
                                   "for_sale": False, "is_gift": True, "standard_cost": 1500},
                                  actor=None, now=now)
        db.session.flush()
        main = db.session.scalar(select(inv.Warehouse).where(inv.Warehouse.code == "MAIN"))
        ids = {
            "hq": hq.id, "departments": [d.id for d in departments], **people,
            "channels": list(db.session.scalars(select(c.Channel.id).order_by(c.Channel.id))),
            "main": main.id, "store": store.id,
            "products": [(p.id, p.sale_price, p.standard_cost) for p in products],
            "gift": (gift.id, gift.standard_cost),
            "stock": inv.location_of(main).id, "custody": inv.location_of(main, "custody").id,
            "store_stock": inv.location_of(store).id,
            "customer": inv.outside("customer").id, "supplier": inv.outside("supplier").id,
            "password_hash": accounts._hash(PASSWORD),
        }
        db.session.commit()
        db.engine.dispose()  # no connection left open: the next build drops the database
    return ids


# --- COPY ----------------------------------------------------------------------------------------

class Copy:
    """One COPY into one table on a connection of its own (several are open at once while the
    orders are written). `row(*values)` in the table's column order given."""

    def __init__(self, info, table, columns):
        self.conn = psycopg.connect(info)
        self.conn.execute("SET session_replication_role = replica")  # no FK trigger per row
        self.cursor = self.conn.cursor()
        types = dict(self.conn.execute(
            "SELECT column_name, udt_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND table_name = %s", (table,)).fetchall())
        # Binary: the server parses no text (timestamps above all), twice as fast here.
        self._copy = self.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN "
                                      f"(FORMAT BINARY)")
        self.copy = self._copy.__enter__()
        self.copy.set_types([types[column] for column in columns])
        self.table, self.count = table, 0

    def row(self, *values):
        self.copy.write_row(values)
        self.count += 1

    def close(self):
        self._copy.__exit__(None, None, None)
        self.conn.commit()
        self.conn.close()
        return self.count


def copy_all(info, table, columns, rows):
    writer = Copy(info, table, columns)
    for row in rows:
        writer.row(*row)
    return writer.close()


def drop_secondary_indexes(conn):
    """Drop the bulk tables' indexes and unique constraints but their primary keys (and those a
    foreign key needs); returns the statements that make them again. An index built once over
    the rows is much cheaper than one kept up to date row by row."""
    indexes = conn.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = 'public' "
        "AND i.tablename = ANY(%s) AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
        "WHERE c.conname = i.indexname)", (list(BULK),)).fetchall()
    uniques = conn.execute(
        "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid) "
        "FROM pg_constraint c WHERE c.contype = 'u' AND c.conrelid::regclass::text = ANY(%s) "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' "
        "AND f.conindid = c.conindid)", (list(BULK),)).fetchall()
    for name, _definition in indexes:
        conn.execute(f'DROP INDEX "{name}"')
    for table, name, _definition in uniques:
        conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    conn.commit()
    return [definition for _name, definition in indexes] + \
        [f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
         for table, name, definition in uniques]


def build_indexes(info, statements, connections=2):
    """Run the statements that make the indexes again, on `connections` at once (the largest
    first, so that the last ones are small)."""
    todo = sorted(statements, reverse=True, key=lambda sql: any(
        f"public.{table} " in sql or f"TABLE {table} " in sql for table in BIGGEST))
    lock = threading.Lock()
    failed = []

    def work():
        with psycopg.connect(info, autocommit=True) as conn:
            conn.execute("SET maintenance_work_mem = '512MB'")
            while True:
                with lock:
                    if not todo or failed:
                        return
                    statement = todo.pop(0)
                try:
                    conn.execute(statement)
                except Exception as exc:  # noqa: BLE001  reported once all have stopped
                    failed.append((statement, exc))
    threads = [threading.Thread(target=work) for _n in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failed:
        raise RuntimeError(f"{failed[0][0]}: {failed[0][1]}")


def weighted(rng, cumulative, items):
    """One of `items` by its cumulative weight."""
    return items[bisect_left(cumulative, rng.random() * cumulative[-1])]


# --- The bulk ------------------------------------------------------------------------------------

def name_maker(rng):
    """(name, pinyin, initials): a common surname and a one- or two-character given name, the
    pinyin of each part computed once (pypinyin, as the app's pinyin_of)."""
    cache = {}

    def spelled(text):
        if text not in cache:
            cache[text] = pinyin_of(text)
        return cache[text]

    surname_weights = list(accumulate(1 / (i + 3) for i in range(len(SURNAMES))))

    def make():
        surname = weighted(rng, surname_weights, SURNAMES)
        given = rng.choice(GIVEN) if rng.random() < 0.25 else \
            rng.choice(GIVEN) + rng.choice(GIVEN)
        first, second = spelled(surname), spelled(given)
        return surname + given, first[0] + second[0], first[1] + second[1]
    return make


def build(url, scale=1.0, seed=29, progress=log):
    """Build the scale database at `url` (dropped first if it exists). Returns figures."""
    started = time.perf_counter()
    rng = random.Random(seed)
    sizes = sizes_at(scale)
    now = datetime.utcnow().replace(microsecond=0)  # the app's UTCDateTime: naive UTC
    today = now.date()
    first_day = now - timedelta(days=365 * YEARS)
    span = (now - first_day).total_seconds()

    def past(days_min=0.0):
        """A moment between three years ago and `days_min` days ago."""
        return first_day + timedelta(seconds=rng.random() * (span - days_min * 86400))

    recreate(url)
    ids = skeleton(url, sizes, rng, now.replace(tzinfo=timezone.utc))
    progress(f"migrated, skeleton in {time.perf_counter() - started:.1f} s")
    info = conninfo(url)
    conn = psycopg.connect(info)
    conn.execute("SET maintenance_work_mem = '512MB'")
    indexes = drop_secondary_indexes(conn)
    figures = {}

    # Marketers: 1,999 spread over the departments, one department of 200; owners weighted
    # so that a few own many customers.
    departments = ids["departments"]
    big = min(BIG_DEPARTMENT, sizes["marketers"] // 10)
    first_user = conn.execute("SELECT max(id) FROM users").fetchone()[0] + 1
    marketers, marketer_department = [], {}
    for n in range(sizes["marketers"]):
        department = departments[0] if n < big else \
            departments[1 + n % (len(departments) - 1)] if len(departments) > 1 else departments[0]
        marketers.append(first_user + n)
        marketer_department[first_user + n] = department
    heads = {department: first_user + sizes["marketers"] + i
             for i, department in enumerate(departments)}
    make_name = name_maker(rng)
    users = []
    for user_id in marketers:
        users.append((user_id, f"m{user_id - first_user}", make_name()[0], "",
                      marketer_department[user_id], ids["password_hash"], True, "zh_CN", 0, 1,
                      now - timedelta(days=800), False, ""))
    for department, user_id in heads.items():
        users.append((user_id, f"head{department}", make_name()[0], "", department,
                      ids["password_hash"], True, "zh_CN", 0, 1, now - timedelta(days=800),
                      False, ""))
    figures["users"] = copy_all(info, "users", (
        "id", "username", "display_name", "phone", "department_id", "password_hash",
        "is_active", "locale", "failed_logins", "auth_version", "created_at",
        "must_change_password", "pin_hash"), users)
    copy_all(info, "user_roles", ("user_id", "role"),
             [(u, "marketer") for u in marketers] + [(u, "dept_head") for u in heads.values()])
    offset = max(1, len(marketers) // 80)  # 25 of 2,000: the first owns ~60 times the median
    owner_weights = list(accumulate(1 / (i + offset) ** 1.1 for i in range(len(marketers))))
    progress(f"{len(users)} users")

    # Owners first (what the events, orders and tasks need); the customers' rows go in after
    # the orders, their last contact known (no foreign key is checked while the rows go in).
    n_customers = sizes["customers"]
    owner = [None] * (n_customers + 1)
    for customer_id in range(1, n_customers + 1):
        if rng.random() >= 0.05:  # 5 % in the public pool
            owner[customer_id] = weighted(rng, owner_weights, marketers)
    last_order = {}

    # Batches: each product's (and the gift's) received once into MAIN.
    products = ids["products"]
    gift_id, gift_cost = ids["gift"]
    batch_rows, batches_of, move_id = [], {}, 0
    first_batch = 1
    catalogue = [(p, cost) for p, _price, cost in products] + [(gift_id, gift_cost)]
    receipts = []
    for n in range(sizes["batches"]):
        product_id, cost = catalogue[n % len(catalogue)]
        batch_id = first_batch + n
        unit_cost = max(100, cost + rng.randrange(-5, 6) * 100)
        received = first_day - timedelta(days=rng.uniform(1, 30))
        batch_rows.append((batch_id, product_id, f"B{batch_id:05d}", None, None, unit_cost,
                           received))
        batches_of.setdefault(product_id, []).append((batch_id, unit_cost))
        move_id += 1
        receipts.append((move_id, product_id, batch_id, ids["supplier"], ids["stock"],
                         1_000_000, unit_cost, "receipt", "", None, None, None, "", None,
                         ids["boss"], received))
    copy_all(info, "batches", ("id", "product_id", "number", "produced_on", "expiry_date",
                               "unit_cost", "created_at"), batch_rows)

    moves = Copy(info, "stock_moves", (
        "id", "product_id", "batch_id", "from_location_id", "to_location_id", "quantity",
        "unit_cost", "reason", "document_type", "document_id", "customer_id", "event_id",
        "note", "reverses_id", "actor_id", "at"))
    for row in receipts:
        moves.row(*row)

    def move(product_id, source, target, quantity, reason, document, customer_id, when,
             event_id=None, batch=None):
        nonlocal move_id
        batch_id, cost = batch or rng.choice(batches_of[product_id])
        move_id += 1
        moves.row(move_id, product_id, batch_id, source, target, quantity, cost, reason,
                  document[0], document[1], customer_id, event_id, "", None, ids["boss"], when)
        return move_id, batch_id, cost

    # Events over three years (one today, with its guests still to come), invitations, and
    # check-ins with an attendance gift each.
    n_events = sizes["events"]
    events = Copy(info, "events", (
        "id", "title", "kind", "venue", "address", "starts_at", "ends_at", "capacity",
        "department_id", "lecturer", "featured", "status", "created_by_id", "created_at",
        "warehouse_id"))
    invitations = Copy(info, "invitations", (
        "id", "event_id", "customer_id", "inviter_id", "status", "companions", "note", "token",
        "is_walk_in", "override_reason", "created_at", "status_changed_at", "needs_pickup",
        "is_seated_by_hand"))
    check_ins = Copy(info, "check_ins", ("id", "invitation_id", "event_id", "customer_id",
                                         "companions", "by_id", "at"))
    gifts = Copy(info, "gift_issues", ("id", "kind", "event_id", "customer_id", "product_id",
                                       "quantity", "marketer_id", "warehouse_id", "staff_id",
                                       "cost", "note", "at"))
    owned = [cid for cid in range(1, n_customers + 1) if owner[cid] is not None]
    guests_today = min(GUESTS_TODAY, sizes["invitations"] // 10)
    per_event = max(1, (sizes["invitations"] - guests_today) // max(1, n_events - 1))
    invitation_id = check_in_id = 0
    attended = {}  # customer → [(event, check-in, at)]
    for event_id in range(1, n_events + 1):
        is_today = event_id == n_events
        starts = now.replace(hour=1, minute=0, second=0) if is_today else \
            first_day + timedelta(seconds=span * (event_id - 0.5) / n_events)
        department = rng.choice(departments)
        events.row(event_id, f"健康讲座第{event_id}期", "lecture", "幸福酒店", "", starts,
                   starts + timedelta(hours=10 if is_today else 3),
                   guests_today * 2 if is_today else 1000, department, "", "",
                   "in_progress" if is_today else "closed", ids["boss"],
                   starts - timedelta(days=20), ids["main"])
        guests = guests_today if is_today else \
            max(1, min(len(owned), int(per_event * (0.5 + event_id % 5 / 4))))  # mean 1
        for customer_id in rng.sample(owned, min(guests, len(owned))):
            invitation_id += 1
            came = not is_today and rng.random() < 0.6
            status = "confirmed" if is_today else "attended" if came else \
                rng.choice(("no_show", "no_show", "declined"))
            invitations.row(invitation_id, event_id, customer_id, owner[customer_id], status, 0,
                            "", f"s{invitation_id:07d}{rng.getrandbits(48):012x}", False, "",
                            starts - timedelta(days=10), starts, False, False)
            if came:
                check_in_id += 1
                arrived = starts + timedelta(minutes=rng.uniform(-30, 20))
                check_ins.row(check_in_id, invitation_id, event_id, customer_id, 0, ids["door"],
                              arrived)
                attended.setdefault(customer_id, []).append((event_id, check_in_id, arrived))
                _move, _batch, cost = move(gift_id, ids["stock"], ids["customer"], 1,
                                           "gift_issue", ("gift_issues", check_in_id),
                                           customer_id, arrived, event_id)
                gifts.row(check_in_id, "attendance", event_id, customer_id, gift_id, 1,
                          owner[customer_id], ids["main"], ids["door"], cost, "", arrived)
    figures["events"] = events.close()
    figures["invitations"] = invitations.close()
    figures["check_ins"] = check_ins.close()
    figures["gift_issues"] = gifts.close()
    progress(f"{figures['invitations']} invitations, {figures['check_ins']} check-ins")

    # Orders: a buyer's count is heavy-tailed (most 0–3, a few dozens), one customer has 50;
    # half of the check-ins end in a deal at the event. Written in time order.
    n_orders = sizes["orders"]
    plan = []  # (at, customer, event, check-in)
    for customer_id, visits in attended.items():
        for event_id, check_in, arrived in visits:
            if rng.random() < 0.5 and len(plan) < n_orders // 4:
                plan.append((arrived + timedelta(minutes=rng.uniform(5, 150)), customer_id,
                             event_id, check_in))
    one = owned[0] if owned else 1
    plan += [(past(1), one, None, None) for _n in range(ORDERS_OF_ONE)]
    buyers = list(range(1, n_customers + 1))
    rng.shuffle(buyers)
    for customer_id in buyers:
        if len(plan) >= n_orders:
            break
        if customer_id == one or rng.random() < 0.45:
            continue
        count = int(rng.paretovariate(1.3))  # 1 for most, a few dozens for some
        if count > 80:
            count = rng.randint(20, 80)
        plan += [(past(1), customer_id, None, None)
                 for _n in range(min(count, n_orders - len(plan)))]
    plan.sort(key=lambda p: p[0])
    attended = None

    orders = Copy(info, "orders", (
        "id", "number", "customer_id", "marketer_id", "department_id", "channel", "event_id",
        "check_in_id", "warehouse_id", "status", "total", "returned_value", "paid",
        "balance_due", "due_date", "note", "created_by_id", "created_at", "cancel_reason",
        "confirmation", "confirmation_reason", "family_informed", "list_total", "below_floor",
        "price_reason", "discount_needed"))
    lines = Copy(info, "order_lines", (
        "id", "order_id", "product_id", "quantity", "unit_price", "discount", "taken", "held",
        "returned", "list_price"))
    payments = Copy(info, "payments", (
        "id", "order_id", "kind", "method", "amount", "reference", "reason", "cashier_id",
        "at", "recorded_at"))
    custody = Copy(info, "custody_entries", (
        "id", "customer_id", "order_id", "order_line_id", "product_id", "batch_id",
        "warehouse_id", "kind", "quantity", "pickup_id", "note", "actor_id", "at"))
    pickups = Copy(info, "custody_pickups", (
        "id", "number", "customer_id", "collected_by", "relation", "release_reason",
        "actor_id", "at"))
    points = Copy(info, "points_entries", (
        "id", "customer_id", "kind", "points", "expires_on", "order_id", "reason", "actor_id",
        "at"))
    product_weights = list(accumulate(1 / (i + 2) for i in range(len(products))))
    line_id = payment_id = entry_id = pickup_id = points_id = 0
    cashier = ids["cashier"]
    for order_id, (created, customer_id, event_id, check_in) in enumerate(plan, start=1):
        last_order[customer_id] = created  # the plan is in time order
        marketer = owner[customer_id] or rng.choice(marketers)
        pending = rng.random() < 0.003
        held_all = not pending and rng.random() < 0.12
        total = list_total = 0
        for _n in range(rng.choice((1, 1, 1, 2, 2, 2, 3, 3, 4))):
            product_id, price, _cost = weighted(rng, product_weights, products)
            quantity = rng.choice((1, 1, 2, 3, 6))
            discount = min(rng.choice((0, 0, 0, 50, 100, 200)) * 100, quantity * price // 5)
            amount = quantity * price - discount
            total += amount
            list_total += quantity * price
            line_id += 1
            held = quantity if held_all else 0
            lines.row(line_id, order_id, product_id, quantity, price, discount, quantity - held,
                      held, 0, price)
            if pending:
                continue
            if held:
                _move, batch_id, cost = move(product_id, ids["stock"], ids["custody"], held,
                                             "custody_deposit", ("orders", order_id),
                                             customer_id, created, event_id)
                entry_id += 1
                custody.row(entry_id, customer_id, order_id, line_id, product_id, batch_id,
                            ids["main"], "deposit", held, None, "", ids["boss"], created)
                if rng.random() < 0.4:  # collected since, in part or whole
                    taken_at = min(now, created + timedelta(days=rng.uniform(1, 90)))
                    share = rng.randint(1, held)
                    pickup_id += 1
                    pickups.row(pickup_id, f"TH{taken_at:%Y%m%d}-{pickup_id:05d}",
                                customer_id, "", "", "", ids["boss"], taken_at)
                    move(product_id, ids["custody"], ids["customer"], share, "custody_pickup",
                         ("custody_pickups", pickup_id), customer_id, taken_at,
                         batch=(batch_id, cost))
                    entry_id += 1
                    custody.row(entry_id, customer_id, order_id, line_id, product_id, batch_id,
                                ids["main"], "pickup", -share, pickup_id, "", ids["boss"],
                                taken_at)
            else:
                move(product_id, ids["stock"], ids["customer"], quantity, "sale_issue",
                     ("orders", order_id), customer_id, created, event_id)
        paid = 0
        if not pending:
            # As in life, a recent deal is often still owed on (a deposit, the balance to
            # come), while after four months most debts have been collected (the arrears
            # reminders chase them): 30 % owing, then 5 %.
            roll, settled = rng.random(), 0.7 if now - created < timedelta(days=120) else 0.95
            target = total if roll < settled else total * rng.randrange(10, 90) // 100 \
                if roll < settled + (1 - settled) * 0.73 else 0
            installments = 1 if target == total and rng.random() < 0.4 else \
                rng.choice((2, 2, 3)) if target else 0
            for n in range(installments):
                amount = target - paid if n == installments - 1 else \
                    (target - paid) // (installments - n)
                if amount <= 0:
                    continue
                at = created + timedelta(days=0 if n == 0 else rng.uniform(1, 60) * n)
                if at > now:  # an instalment not due yet: still owed (not all paid today)
                    break
                paid += amount
                payment_id += 1
                kind = "full" if installments == 1 and paid == total else \
                    "deposit" if n == 0 else "balance"
                payments.row(payment_id, order_id, kind, rng.choice(METHODS), amount, "", "",
                             cashier, at, at)
            if paid >= 100:
                points_id += 1
                points.row(points_id, customer_id, "earned", paid // 100,
                           (created + timedelta(days=730)).date(), order_id, "", None, created)
        balance = total - paid
        orders.row(order_id, f"XS{created:%Y%m%d}-{order_id:05d}", customer_id, marketer,
                   marketer_department[marketer], "event" if event_id else
                   rng.choice(("store", "phone")), event_id, check_in, ids["main"], "open",
                   total, 0, paid, balance,
                   (created + timedelta(days=30)).date() if balance else None, "", marketer,
                   created, "", "pending" if pending else "", "", False, list_total, False, "",
                   0)
    plan = None
    for name, writer in (("orders", orders), ("order_lines", lines), ("payments", payments),
                         ("custody_entries", custody), ("custody_pickups", pickups),
                         ("points_entries", points)):
        figures[name] = writer.close()
    progress(f"{figures['orders']} orders, {figures['order_lines']} lines, "
             f"{figures['payments']} payments")

    # The customers and the tails their names are found by.
    customers = Copy(info, "customers", (
        "id", "name", "name_pinyin", "name_initials", "gender", "phone", "phone_reversed",
        "phone2", "address", "district", "channel_id", "grade", "grade_is_manual",
        "health_notes", "birthday_kind", "birthday", "birth_year", "birth_month", "lunar_leap",
        "do_not_call", "do_not_sms", "owner_id", "department_id", "status", "created_by_id",
        "created_at", "owned_since", "last_contact_at"))
    parts = Copy(info, "customer_name_parts", ("part", "customer_id"))
    channels = ids["channels"]
    for customer_id in range(1, n_customers + 1):
        name, pinyin, initials = make_name()
        # A bijection of the id onto nine digits: unique numbers, tails spread evenly.
        phone = f"1{'3589'[customer_id % 4]}{(customer_id * 7_654_321 + 13_579) % 10**9:09d}"
        marketer = owner[customer_id]
        created = first_day - timedelta(days=rng.uniform(0, 730))
        birthday = date(rng.randint(1935, 1965), rng.randint(1, 12), rng.randint(1, 28)) \
            if rng.random() < 0.6 else None
        # Followed up within the month, as owners do (a few are let go); a purchase is one.
        contact = now - timedelta(days=rng.uniform(0, 25)) \
            if marketer and rng.random() < 0.97 else None
        bought = last_order.get(customer_id)
        if bought and (contact is None or bought > contact):
            contact = bought
        customers.row(customer_id, name, pinyin, initials, rng.choice("MFFF"), "+86" + phone,
                      phone[::-1], "", "", "", rng.choice(channels),
                      rng.choice(("", "", "A", "B", "C", "D")), False, "",
                      "solar" if birthday else "", birthday,
                      birthday.year if birthday else None, birthday.month if birthday else None,
                      False, False, False, marketer,
                      marketer_department[marketer] if marketer else None,
                      "active" if marketer else "pool", marketer, created, created, contact)
        for start in range(1, len(name)):
            parts.row(name[start:], customer_id)
    figures["customers"] = customers.close()
    figures["name_parts"] = parts.close()
    progress(f"{figures['customers']} customers")

    # Transfers from the main warehouse to the store, in whole boxes.
    for _n in range(sizes["transfers"]):
        product_id, _price, _cost = weighted(rng, product_weights, products)
        move(product_id, ids["stock"], ids["store_stock"], rng.choice((1, 2, 5, 10)),
             "transfer", ("stock_documents", None), None, past(0))
    figures["stock_moves"] = moves.close()
    progress(f"{figures['stock_moves']} stock moves")

    # Tasks: the owners' follow-ups over three years, most done; the last month's and the
    # coming week's open or done.
    tasks = Copy(info, "tasks", (
        "id", "kind", "customer_id", "assignee_id", "department_id", "due_date", "source_key",
        "title", "detail", "status", "created_at", "done_at", "done_on", "done_by_id",
        "skip_reason", "outcome", "attempt", "early_reason"))
    for task_id in range(1, sizes["tasks"] + 1):
        customer_id = rng.choice(owned)
        assignee = owner[customer_id]
        recent = rng.random() < 0.15
        due = today + timedelta(days=rng.randint(-30, 7)) if recent else \
            (first_day + timedelta(seconds=rng.random() * (span - 31 * 86400))).date()
        status = ("open" if rng.random() < 0.7 else "done") if recent else \
            ("done" if rng.random() < 0.85 else "skipped")
        if status == "done" and due > today:
            status = "open"
        done = status != "open"
        midnight = datetime(due.year, due.month, due.day)
        done_at = midnight + timedelta(hours=3) if done else None
        tasks.row(task_id, rng.choice(TASK_KINDS), customer_id, assignee,
                  marketer_department[assignee], due, f"s{task_id}", "回访", "", status,
                  midnight - timedelta(days=3),
                  done_at, due if done else None, assignee if done else None,
                  "联系不上" if status == "skipped" else "", "reached" if status == "done" else None,
                  1, "")
    figures["tasks"] = tasks.close()
    progress(f"{figures['tasks']} tasks")

    # What the ledgers cache, summed from their entries; then the indexes, sequences, ANALYZE.
    conn.execute("""
        INSERT INTO stock_quants (location_id, product_id, batch_id, quantity)
        SELECT location_id, product_id, batch_id, sum(quantity) FROM (
            SELECT to_location_id AS location_id, product_id, batch_id, quantity FROM stock_moves
            UNION ALL
            SELECT from_location_id, product_id, batch_id, -quantity FROM stock_moves) flows
        JOIN stock_locations l ON l.id = flows.location_id AND l.kind IN ('stock', 'custody')
        GROUP BY location_id, product_id, batch_id""")
    conn.execute("""
        INSERT INTO points_accounts (customer_id, balance, debt)
        SELECT customer_id, sum(points), 0 FROM points_entries GROUP BY customer_id""")
    conn.commit()
    progress("ledgers summed")
    build_indexes(info, indexes)
    progress(f"{len(indexes)} indexes built again")
    for (table,) in conn.execute(
            "SELECT table_name FROM information_schema.columns WHERE table_schema = 'public' "
            "AND column_name = 'id' AND column_default LIKE 'nextval%%'").fetchall():
        conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                     f"coalesce((SELECT max(id) FROM {table}), 0) + 1, false)")
    conn.commit()
    conn.autocommit = True
    # VACUUM too: a database in use has its visibility map kept by autovacuum (the index-only
    # scans the screens rely on read no table page then); a fresh COPY has none.
    conn.execute("VACUUM (ANALYZE)")
    conn.close()
    figures["build_s"] = round(time.perf_counter() - started, 1)
    progress(f"built in {figures['build_s']} s")
    return figures


# --- Measure -------------------------------------------------------------------------------------

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
#: Requests of each screen thrown away before the measured ones (a worker's first is slower).
WARM = 2


def p95(values):
    values = sorted(values)
    return round(statistics.quantiles(values, n=20)[-1], 1) if len(values) >= 2 else \
        round(values[0], 1) if values else None


class Browser:
    """One person signed in over HTTP, as a browser or a tablet is: the session cookie, kept
    as the server renews it (Set-Cookie), one kept-alive connection and the same User-Agent on
    every request. (Without the last two every request looked to Flask-Login like a session
    carried to another browser — marked not fresh, so signed again — and after the first minute
    each was renewed again: work no tablet makes the server do.)"""

    AGENT = "Mozilla/5.0 (Linux; Android 13; bench/scale.py) Chrome/131.0 Safari/537.36"

    def __init__(self, base, username):
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        opener.addheaders = [("User-Agent", self.AGENT)]
        page = opener.open(base + "/auth/login", timeout=60).read().decode()
        form = {"csrf_token": CSRF.search(page)[1], "username": username, "password": PASSWORD}
        with opener.open(urllib.request.Request(base + "/auth/login",
                                                urllib.parse.urlencode(form).encode()),
                         timeout=300) as answer:
            answer.read()
        self.cookies = {cookie.name: cookie.value for cookie in jar}
        assert self.cookies, f"{username} could not sign in"
        where = urllib.parse.urlsplit(base)
        self.address = (where.hostname, where.port or 80)
        self.connection = http.client.HTTPConnection(*self.address, timeout=300)

    def request(self, method, path, body=None, headers=None):
        """(status, body, ms)."""
        headers = {"Cookie": "; ".join(f"{name}={value}" for name, value in self.cookies.items()),
                   "User-Agent": self.AGENT, **(headers or {})}
        started = time.perf_counter()
        try:
            self.connection.request(method, path, body, headers)
            response = self.connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):  # the server closed the kept-alive one
            self.connection.close()
            self.connection = http.client.HTTPConnection(*self.address, timeout=300)
            started = time.perf_counter()
            self.connection.request(method, path, body, headers)
            response = self.connection.getresponse()
            data = response.read()
        ms = (time.perf_counter() - started) * 1000
        for header in response.headers.get_all("Set-Cookie") or ():
            cookie = http.cookies.SimpleCookie(header)
            self.cookies.update({name: morsel.value for name, morsel in cookie.items()})
        return response.status, data, ms

    def timings(self, paths, n, headers=None):
        """Milliseconds of n GETs going round `paths` (after WARM of each, not counted)."""
        times = []
        for i in range(-WARM * len(paths), n):
            path = paths[i % len(paths)]
            status, data, ms = self.request("GET", path, headers=headers)
            if status != 200:
                raise RuntimeError(f"GET {path}: {status} {data[-300:]!r}")
            if i >= 0:
                times.append(ms)
        return times


def facts_of(url, rng):
    """What the measurements read, looked up in the built database."""
    with psycopg.connect(conninfo(url)) as conn:
        def one(sql, *args):
            return conn.execute(sql, args).fetchone()
        busiest, open_tasks = one(
            "SELECT u.username, count(*) FROM tasks t JOIN users u ON u.id = t.assignee_id "
            "WHERE t.status = 'open' GROUP BY u.username ORDER BY count(*) DESC LIMIT 1")
        # The "Today of a marketer with 3,000 open tasks": the one with the fewest at
        # or above that (the busiest is measured too, beside it).
        typical, typical_tasks = one(
            "SELECT u.username, count(*) FROM tasks t JOIN users u ON u.id = t.assignee_id "
            "WHERE t.status = 'open' GROUP BY u.username HAVING count(*) >= %s "
            "ORDER BY count(*), u.username LIMIT 1", TODAY_TASKS) or (busiest, open_tasks)
        marketer_id = one("SELECT id FROM users WHERE username = %s", busiest)[0]
        own = conn.execute("SELECT name, name_initials, phone FROM customers "
                           "WHERE owner_id = %s ORDER BY random() LIMIT 10",
                           (marketer_id,)).fetchall()
        anyone = conn.execute("SELECT name, name_initials, phone FROM customers "
                              "TABLESAMPLE SYSTEM (1) LIMIT 10").fetchall() or own
        department, marketers = one(
            "SELECT department_id, count(*) FROM users u JOIN user_roles r ON r.user_id = u.id "
            "AND r.role = 'marketer' GROUP BY department_id ORDER BY count(*) DESC LIMIT 1")
        return {
            "customer": one("SELECT customer_id FROM orders GROUP BY customer_id "
                            "ORDER BY abs(count(*) - %s), customer_id LIMIT 1",
                            ORDERS_OF_ONE)[0],
            "busiest": busiest, "open_tasks": open_tasks,
            "typical": typical, "typical_open_tasks": typical_tasks,
            "event": one("SELECT id FROM events WHERE status = 'in_progress' "
                         "ORDER BY id LIMIT 1")[0],
            "queries_marketer": queries(own, rng), "queries_manager": queries(anyone, rng),
            "department": department, "department_marketers": marketers,
            "customers": one("SELECT count(*) FROM customers")[0],
            "active": one("SELECT count(*) FROM customers WHERE status = 'active'")[0],
        }


def server_settings(url):
    """The PostgreSQL settings the figures depend on, printed with them."""
    with psycopg.connect(conninfo(url)) as conn:
        return {f"pg_{name}": conn.execute(f"SHOW {name}").fetchone()[0]
                for name in ("shared_buffers", "autovacuum", "max_wal_size",
                                     "checkpoint_timeout")}


def vacuum_as_autovacuum_would(url):
    """A server in use keeps its tables' visibility maps and statistics with autovacuum (the
    screens' index-only scans read no table page then). Where it is off (this machine's
    PostgreSQL, set up for the test runs), VACUUM (ANALYZE) what the last night's jobs changed
    before measuring, as autovacuum would have. Returns seconds, or None when it is on."""
    with psycopg.connect(conninfo(url), autocommit=True) as conn:
        if conn.execute("SHOW autovacuum").fetchone()[0] == "on":
            return None
        started = time.perf_counter()
        conn.execute("VACUUM (ANALYZE)")
        return round(time.perf_counter() - started, 1)


def queries(rows, rng):
    """What people type into the search box: a name's first two characters, its initials, a
    phone's last four digits."""
    found = []
    for name, initials, phone in rows:
        found += [name[:2], initials[:3], phone[-4:]]
    rng.shuffle(found)
    return found


def search_paths(texts):
    return [f"/customers/?{urllib.parse.urlencode({'q': text})}" for text in texts]


def _processes(*names):
    """The ids of this machine's processes whose command line holds one of `names`."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as file:
                line = file.read()
        except OSError:
            continue
        if any(name.encode() in line for name in names) and int(pid) != os.getpid():
            found.append(int(pid))
    return found


def _cpu_s(pids):
    """CPU seconds (user + system) the processes `pids` have used (those gone count 0)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as file:
                fields = file.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


_CPU_GROUPS = {"app": ("gunicorn",), "db": ("postgres",)}


def cpu_mark():
    """What cpu_since() counts from: the CPU seconds used so far by the app's workers
    (gunicorn), the database server (every postgres process: backends, WAL writer,
    checkpointer) and this process; None without /proc or a server on this machine."""
    if not os.path.isdir("/proc") or not all(_processes(*n) for n in _CPU_GROUPS.values()):
        return None
    return {group: _cpu_s(_processes(*names)) for group, names in _CPU_GROUPS.items()} | {
        "client": _cpu_s([os.getpid()])}


def cpu_since(mark):
    """{"app": s, "db": s, "client": s}: the CPU seconds used since `mark` (None: unknown). A
    process started meanwhile counts whole; one ended meanwhile is not counted."""
    if mark is None:
        return None
    now = {group: _cpu_s(_processes(*names)) for group, names in _CPU_GROUPS.items()} | {
        "client": _cpu_s([os.getpid()])}
    return {group: now[group] - mark[group] for group in now}


def queue_figures(base, event_id, guests, clients=8):
    """The queue's rate, its errors and what each check-in cost in CPU (see the docstring)."""
    rate, errors, done, spent = queue_rate(base, event_id, guests, clients)
    figures = {"queue_checkins_per_s": rate, "queue_errors": errors}
    for group in ("app", "db", "client"):
        figures[f"queue_{group}_cpu_ms"] = round(spent[group] * 1000 / done, 2) \
            if spent and done else None
    figures["queue_cpu_bound_per_s"] = round(
        os.cpu_count() * done / sum(spent.values()), 1) if spent and done else None
    return figures


def queue_rate(base, event_id, guests, clients=8):
    """Door check-ins per second through the tablets' queue endpoint, `clients` at once (as
    bench/checkin.py sends them): (rate, errors, check-ins done, the CPU they cost: cpu_since).
    The clients sign in and open the door screen before the clock starts."""
    todo, lock, done, errors, marks = list(guests), threading.Lock(), [], [], []
    # Once every client is ready, the CPU used so far is read before any of them goes on.
    ready = threading.Barrier(clients + 1, action=lambda: marks.append(cpu_mark()))

    def client():
        door = Browser(base, "door")
        _status, page, _ms = door.request("GET", f"/checkin/{event_id}")
        csrf = CSRF.search(page.decode())[1]
        ready.wait()
        while True:
            with lock:
                if not todo:
                    return
                guest = todo.pop()
            path, form, extra = queue_request(event_id, guest, csrf)
            status, body, _ms = door.request(
                "POST", path, urllib.parse.urlencode(form),
                {"Content-Type": "application/x-www-form-urlencoded", **extra})
            (done if queue_answered(status, body) else errors).append(status)

    threads = [threading.Thread(target=client) for _n in range(clients)]
    for thread in threads:
        thread.start()
    ready.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed, spent = time.perf_counter() - started, cpu_since(marks[0])
    return round(len(done) / elapsed, 1), len(errors), len(done), spent


@contextlib.contextmanager
def serving(url, folder, port, workers=4):
    """The app as `make run-pg` serves it (deploy/gunicorn.conf.py, 4 workers) on the built
    database at 127.0.0.1:`port`, until the block ends. Its log goes to a file."""
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench-scale",
           "INSTANCE_DIR": str(folder), "HOST": "127.0.0.1", "PORT": str(port),
           "WORKERS": str(workers), "LOG_LEVEL": "warning", "MAX_REQUESTS": "0"}
    log_file = open(folder / "gunicorn.log", "ab")
    server = subprocess.Popen([str(ROOT / ".venv/bin/gunicorn"), "-c", "deploy/gunicorn.conf.py",
                               "app:create_app()"], cwd=ROOT, env=env, stdout=log_file,
                              stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError(f"gunicorn did not answer: see {folder}/gunicorn.log")
                time.sleep(0.3)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
        log_file.close()


def over_http(base, facts, door, n):
    """The screens' p95 over HTTP and the door queue's rate (a server answering at `base`)."""
    boss, marketer = Browser(base, "boss"), Browser(base, facts["busiest"])
    hx = {"HX-Request": "true"}
    search = boss.timings(search_paths(facts["queries_manager"]), n, hx) + \
        marketer.timings(search_paths(facts["queries_marketer"]), n, hx)
    event_id, guests = door
    figures = {
        "search_p95_ms": p95(search),
        "customer_page_p95_ms": p95(boss.timings([f"/customers/{facts['customer']}"], n)),
        "list_p95_ms": p95(boss.timings(["/customers/?grade=A&page=1",
                                         "/customers/?grade=A&page=500"], n)),
        "today_p95_ms": p95(Browser(base, facts["typical"]).timings(["/tasks/"], n)),
        "today_busiest_p95_ms": p95(marketer.timings(["/tasks/"], n)),
        "home_p95_ms": p95(boss.timings(["/"], n)),
        "arrears_p95_ms": p95(boss.timings(["/orders/arrears"], n)),
        "invitations_p95_ms": p95(
            boss.timings([f"/events/{facts['event']}/invitations"], n) +
            Browser(base, "door").timings([f"/checkin/{event_id}/roster"], n)),
    }
    figures.update(queue_figures(base, event_id, guests))
    return figures


def next_night(app):
    """The day whose night is measured: today, or — when today's night was run already (a
    measure before this one) — the first day after the last night run, so that each measure
    times a night's first run of its jobs (a new day's regrading, reminders and expiries), not
    a re-run of the last."""
    today = local_day(utcnow())
    with app.app_context():
        last = db.session.scalar(select(func.max(JobRun.run_date)).where(
            JobRun.job == "grading", JobRun.status == "ok"))
        db.session.remove()
    return today if last is None or last < today else last + timedelta(days=1)


def timed(work):
    started = time.perf_counter()
    result = work()
    return result, round(time.perf_counter() - started, 2)


def in_process(app, url, facts, folder):
    """The nightly jobs (the first run of today, forced when it already ran; then a forced
    rerun: everything already written, only the scan), the company gather of last month, the
    department PDF and the export of every customer by a worker process."""
    day = next_night(app)
    run = lambda: sum(jobs.run_job(app, name, day, trigger="schedule", force=True)  # noqa: E731
                      for name in jobs.JOBS)
    written, nightly_s = timed(run)
    log(f"nightly: {nightly_s} s, {written} rows")
    rewritten, rerun_s = timed(run)
    log(f"nightly again: {rerun_s} s, {rewritten} rows")
    figures = {"night": day.isoformat(), "nightly_s": nightly_s, "nightly_rows": written,
               "nightly_rerun_s": rerun_s,
               "nightly_rerun_rows": rewritten}
    end = day.replace(day=1) - timedelta(days=1)
    with app.test_request_context():
        boss = accounts.find_user_by_username("boss")
        month = Params(boss, end.replace(day=1), end)
        _data, figures["company_gather_s"] = timed(lambda: performance.gather_company(month))
        department = db.session.get(accounts.Department, facts["department"])
        in_department = Params(boss, end.replace(day=1), end, department=department)
        pdf, figures["dept_pdf_200_s"] = timed(lambda: performance.build(
            performance.gather(in_department), printed_by=boss.display_name))
        figures["dept_pdf_marketers"] = facts["department_marketers"]
        figures["dept_pdf_kb"] = len(pdf) // 1024
        export_in_background(boss)
        db.session.remove()
    exported = export_all(app, url, folder, "boss")
    figures.update(export_2m_s=exported["export_200k_s"],
                   export_peak_rss_mb=exported["export_peak_rss_mb"],
                   export_rows=exported["export_rows"])
    return figures


def measure(url, base=None, n=50, port=5072, seed=29, http_only=False):
    """Every figure of issue 29 §2 on the built database at `url` (served here unless `base`,
    a server already answering, is given)."""
    rng = random.Random(seed)
    folder = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    facts = facts_of(url, rng)
    app = bench_app(url, folder)
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))  # built by an older checkout
        size = min(GUESTS_TODAY, max(20, facts["active"] // 10))
        door = door_event(f"压测讲座{int(time.time())}", offset=rng.randrange(
            max(1, facts["active"] - size)), size=size)
        db.session.remove()
    # The screens are measured as a working company sees them: after last night's runs — the
    # home pages read the closed days from the day figures that run keeps (not forced: a
    # second measure finds them kept).
    kept_s = timed(lambda: jobs.run_job(app, "day-figures", local_day(utcnow()),
                                        trigger="schedule"))[1]
    log(f"day figures kept in {kept_s} s")
    vacuum_s = vacuum_as_autovacuum_would(url)
    if vacuum_s is not None:
        log(f"autovacuum is off on this server: VACUUM (ANALYZE) in {vacuum_s} s")
    figures = {"customers": facts["customers"], "today_open_tasks": facts["typical_open_tasks"],
               "busiest_open_tasks": facts["open_tasks"], "vacuum_s": vacuum_s,
               **server_settings(url),
               "door_guests": len(door[1]), "cpu_reference_ms": [reference_ms()]}
    with (contextlib.nullcontext(base) if base else serving(url, folder, port)) as served:
        figures.update(over_http(served, facts, door, n))
    log(f"over HTTP: {json.dumps(figures)}")  # kept should the rest be stopped
    if not http_only:
        figures.update(in_process(app, url, facts, folder))
    figures["cpu_reference_ms"].append(reference_ms())
    with app.app_context():
        db.engine.dispose()
    return figures


def reference_ms(loops=2_000_000, runs=5):
    """This machine's speed as the figures were taken: the median of `runs` times of a fixed
    pure-Python loop, in milliseconds (a shared virtual machine's cores do not keep one speed;
    compare runs by it)."""
    times = []
    for _run in range(runs):
        started, total = time.perf_counter(), 0
        for i in range(loops):
            total += i
        times.append(time.perf_counter() - started)
    return round(statistics.median(times) * 1000, 1)


def slowest(url, top=3, seed=29):
    """The screens measured over HTTP, rendered in process (test client) with every statement
    timed: the `top` slowest statements, each with its screen and EXPLAIN (ANALYZE, BUFFERS).
    Returns text."""
    rng = random.Random(seed)
    facts = facts_of(url, rng)
    folder = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    app = bench_app(url, folder)
    seen, screen = [], [""]
    with app.app_context():
        engine = db.engine

        def before(conn, cursor, statement, parameters, context, executemany):
            conn.info["started"] = time.perf_counter()

        def after(conn, cursor, statement, parameters, context, executemany):
            started = conn.info.pop("started")
            if screen[0] is None:  # a first request: not counted
                return
            seen.append(((time.perf_counter() - started) * 1000, screen[0],
                         statement, parameters))
        event.listen(engine, "before_cursor_execute", before)
        event.listen(engine, "after_cursor_execute", after)
    screens = [("boss", "search (manager)", p) for p in search_paths(facts["queries_manager"])]
    screens += [(facts["busiest"], "search (marketer)", p)
                for p in search_paths(facts["queries_marketer"])]
    screens += [("boss", "customer page", f"/customers/{facts['customer']}"),
                ("boss", "list page 1", "/customers/?grade=A&page=1"),
                ("boss", "list page 500", "/customers/?grade=A&page=500"),
                (facts["typical"], "today", "/tasks/"), ("boss", "home", "/"),
                ("boss", "arrears", "/orders/arrears"),
                ("boss", "invitations", f"/events/{facts['event']}/invitations")]
    clients = {}
    for username, name, path in screens:
        if username not in clients:
            clients[username] = signed_in_client(app, username)
        for n in range(2):  # the second one counts: caches warm
            screen[0] = name if n else None
            response = clients[username].get(path, headers={"HX-Request": "true"}
                                             if name.startswith("search") else {})
            assert response.status_code == 200, (path, response.status_code)
    worst, shown = sorted(seen, key=lambda s: -s[0]), []
    lines = []
    with app.app_context():
        event.remove(db.engine, "before_cursor_execute", before)
        event.remove(db.engine, "after_cursor_execute", after)
        for ms, name, statement, parameters in worst:
            if statement in shown or not statement.lstrip().upper().startswith("SELECT"):
                continue
            shown.append(statement)
            plan = db.session.connection().exec_driver_sql(
                "EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters).scalars().all()
            db.session.rollback()
            lines += [f"--- {name}: {ms:.0f} ms", statement, f"-- {parameters}", *plan, ""]
            if len(shown) == top:
                break
        db.session.remove()
        db.engine.dispose()
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", action="store_true", help="(re)build the database")
    parser.add_argument("--measure", action="store_true", help="measure the built database")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--database", default="hxt_scale")
    parser.add_argument("--server", default=SERVER,
                        help="a URL of the PostgreSQL server (BENCH_DATABASE_URL)")
    parser.add_argument("--seed", type=int, default=29)
    parser.add_argument("--url", help="measure the server answering here (nothing started)")
    parser.add_argument("--port", type=int, default=5072, help="where gunicorn listens")
    parser.add_argument("--requests", type=int, default=50, help="measured requests a figure")
    parser.add_argument("--http-only", action="store_true",
                        help="measure only over HTTP (no nightly run, gather, PDF or export)")
    parser.add_argument("--drop", action="store_true", help="drop the database at the end")
    parser.add_argument("--explain", type=int, metavar="N",
                        help="print the N slowest statements of the screens, with their plans")
    args = parser.parse_args(argv)
    url = make_url(args.server).set(database=args.database).render_as_string(
        hide_password=False)
    figures = {}
    try:
        if args.build:
            figures.update(build(url, args.scale, args.seed))
        if args.measure:
            figures.update(measure(url, args.url, args.requests, args.port, args.seed,
                                   args.http_only))
        if args.explain:
            print(slowest(url, args.explain, args.seed), file=sys.stderr)
    finally:
        if args.drop:
            with psycopg.connect(conninfo(make_url(url).set(database="postgres")),
                                 autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
