"""Speed of the customer archive (issue 3), on its own SQLite database built by the migrations.

    .venv/bin/python bench/customers.py [--customers 200000] [--queries 200] [--import-rows 10000]

With --postgres the same runs on a throwaway PostgreSQL database (dropped at the end).

Builds N customers (Faker zh_CN, seeded) owned by 100 marketers, then measures the search box
in-process with the test client (the htmx partial a tablet gets), as a manager (every customer in
scope) and as a marketer (own + pool): phone tail, initials, name (its first two characters) and
middle-of-name (the last two of a three-character name: 秀兰 of 张秀兰) queries, p95 in ms
(`search_phone_tail_p95_ms`, `search_initials_p95_ms`, `search_name_p95_ms`,
`search_name_middle_p95_ms`; the marketer's end in `_marketer`). Then the dry run of a
10,000-row import (`import_dry_run_10k_s`), and the .xlsx export of every customer as the
manager, the way a list longer than the setting ``imports.background_rows`` (default 2,000) is
exported: the page (POST /customers/export.xlsx) queues a background run and answers with a
redirect to its progress page (`export_enqueue_ms`); a child process that stands for the
worker — a fresh interpreter that loads the app and runs `flask jobs work`, as the worker unit
and the scheduler work the queue — writes the workbook onto the run's row; the page then shows
the run done and its workbook downloads. `export_200k_s` is the time the worker takes until the
run is done, `export_peak_rss_mb` the worker's peak resident memory (VmHWM, the app and its
imports included; issue 23 §3 asks under 300 MB), `export_rows` the customers in the workbook and
`export_mb` its size. With --customers at or below the setting, the bench lowers the setting so
that the export still takes that path. Ends with one JSON line of the figures.
"""
import argparse
import io
import json
import multiprocessing
import os
import random
import resource
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from faker import Faker  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from itsdangerous import URLSafeTimedSerializer  # noqa: E402
from openpyxl import Workbook  # noqa: E402
from sqlalchemy import func, insert, select  # noqa: E402

from app import create_app  # noqa: E402
from extensions import db  # noqa: E402
from models import accounts, background, customer_import, customers as c  # noqa: E402
from models.base import utcnow  # noqa: E402
from models.settings import get_setting, update_settings  # noqa: E402


def build(n, seed=7, n_marketers=100):
    fake = Faker("zh_CN")
    Faker.seed(seed)
    random.seed(seed)
    hq = accounts.create_department("总部", actor=None)
    departments = [accounts.create_department(f"销售{i}部", parent=hq, actor=None)
                   for i in range(1, 11)]
    marketers = [accounts.create_user(username=f"m{i}", display_name=fake.name(),
                                      password="bench2026x", roles=["marketer"],
                                      department=departments[i % 10], actor=None)
                 for i in range(n_marketers)]
    manager = accounts.create_user(username="boss", display_name="老板", password="bench2026x",
                                   roles=["manager"], department=hq, actor=None)
    c.ensure_default_channels()
    db.session.commit()
    channels = list(db.session.scalars(select(c.Channel.id)))
    now = utcnow()
    used, rows = set(), []
    table = c.Customer.__table__
    while len(used) < n:
        phone = f"1{random.choice('3589')}{random.randint(0, 999999999):09d}"
        if phone in used:
            continue
        used.add(phone)
        name = fake.name()
        pinyin, initials = c.pinyin_of(name)
        owner = random.choice(marketers)
        pooled = random.random() < 0.05
        rows.append({
            "name": name, "name_pinyin": pinyin, "name_initials": initials,
            "gender": random.choice("MF"), "phone": "+86" + phone, "phone_reversed": phone[::-1],
            "phone2": "", "address": "", "district": "", "channel_id": random.choice(channels),
            "grade": random.choice(["", "A", "B", "C", "D"]), "grade_is_manual": False,
            "health_notes": "", "birthday_kind": "", "lunar_leap": False, "do_not_call": False,
            "do_not_sms": False, "owner_id": None if pooled else owner.id,
            "department_id": owner.department_id, "status": "pool" if pooled else "active",
            "created_at": now - timedelta(minutes=len(rows)),
            "owned_since": now - timedelta(minutes=len(rows)),
        })
        if len(rows) == 5000:
            db.session.execute(insert(table), rows)
            rows = []
    if rows:
        db.session.execute(insert(table), rows)
    # What create_customer writes besides the row: the tails the middle of a name is found by.
    parts = [{"customer_id": customer_id, "part": part.part}
             for customer_id, name in db.session.execute(select(c.Customer.id, c.Customer.name))
             for part in c.name_parts(name)]
    for start in range(0, len(parts), 20000):
        db.session.execute(insert(c.NamePart), parts[start:start + 20000])
    db.session.commit()
    return manager, marketers[0], sorted(used)


def csrf_token(app):
    """The CSRF token of a session whose secret is "b" * 40 (signed_in_client's)."""
    return URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token").dumps("b" * 40)


def signed_in_client(app, username):
    client = app.test_client()
    with client.session_transaction() as session:
        session["csrf_token"] = "b" * 40
    response = client.post("/auth/login", data={"username": username, "password": "bench2026x",
                                                "csrf_token": csrf_token(app)})
    assert response.status_code == 302, response.status_code
    return client


def work_queue_in_worker(uri, folder, results):
    """In a child process (the worker): load the app and work the queue of background runs as
    `flask --app app jobs work` does; put (seconds, peak RSS in MB, the CLI's output) on
    `results`."""
    app = bench_app(uri, folder)
    started = time.perf_counter()
    outcome = app.test_cli_runner().invoke(args=["jobs", "work"])
    elapsed = time.perf_counter() - started
    peak_mb = peak_rss_kib() / 1024
    if outcome.exception is not None:
        raise outcome.exception
    results.put((round(elapsed, 1), round(peak_mb), outcome.output.strip()))


def peak_rss_kib():
    """This process's peak resident memory. VmHWM, not getrusage's ru_maxrss: Linux carries
    ru_maxrss over an exec, so a spawned child would report the RSS of the bench process it
    was forked from (200,000 customers built) instead of its own."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # not Linux: KiB or bytes


def export_all(app, uri, folder, username):
    """The export of every customer as `username`, as a large one goes: the page queues a
    background run, a worker (work_queue_in_worker in a fresh interpreter: spawn, nothing of
    this process shared) works it, the run's page shows it done and its workbook downloads.
    Returns the figures."""
    client = signed_in_client(app, username)
    with client.session_transaction() as session:  # signing in starts a new session
        session["csrf_token"] = "b" * 40
    started = time.perf_counter()
    queued = client.post("/customers/export.xlsx", data={"q": "", "csrf_token": csrf_token(app)})
    enqueue_ms = round((time.perf_counter() - started) * 1000)
    assert queued.status_code == 302 and "/runs/" in queued.location, \
        (queued.status_code, queued.location)
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    child = context.Process(target=work_queue_in_worker, args=(uri, str(folder), results))
    child.start()
    child.join()
    assert child.exitcode == 0, child.exitcode
    seconds, peak_mb, said = results.get(timeout=60)
    assert said.endswith(": 1"), said  # "后台任务 / background runs: 1"
    page = client.get(queued.location)
    assert page.status_code == 200 and 'data-state="done"' in page.text, page.text[-3000:]
    download = client.get(queued.location + "/download.xlsx")
    assert download.status_code == 200, (download.status_code, said)
    token = queued.location.rstrip("/").rsplit("/", 1)[-1]
    with app.app_context():
        run = db.session.scalar(select(background.BackgroundRun).where(
            background.BackgroundRun.token == token))
        rows = run.result["count"]
        db.session.remove()
    return {"export_enqueue_ms": enqueue_ms, "export_200k_s": seconds,
            "export_peak_rss_mb": peak_mb, "export_rows": rows,
            "export_mb": round(len(download.data) / 2**20, 1)}


def export_in_background(actor):
    """Make sure an export of every customer is a background run: with no more customers than
    the setting says, lower it (as an admin would)."""
    customers = db.session.scalar(select(func.count()).select_from(c.Customer))
    if customers <= get_setting("imports.background_rows"):
        update_settings({"imports.background_rows": max(1, customers - 1)}, actor=actor)
        db.session.commit()


def p95_ms(client, queries):
    timings = []
    for query in queries:
        started = time.perf_counter()
        response = client.get("/customers/", query_string={"q": query},
                              headers={"HX-Request": "true"})
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    return round(statistics.quantiles(timings, n=20)[-1], 1)


def import_dry_run(app, marketer_name, rows=10000, seed=11):
    fake = Faker("zh_CN")
    Faker.seed(seed)
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["姓名", "手机号", "性别", "生日", "来源"])
    for i in range(rows):
        sheet.append([fake.name(), f"166{i:08d}", random.choice(["男", "女"]),
                      fake.date_of_birth(minimum_age=55, maximum_age=85).isoformat(), "门店"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    with app.app_context():
        marketer = accounts.find_user_by_username(marketer_name)
        started = time.perf_counter()
        batch = customer_import.upload("bench.xlsx", buffer.getvalue(), actor=marketer)
        results = customer_import.dry_run(batch, actor=marketer)
        elapsed = time.perf_counter() - started
        counts = customer_import.summarise(results)
        db.session.rollback()
    return round(elapsed, 2), counts


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=200000)
    parser.add_argument("--queries", type=int, default=200,
                        help="queries of each kind (at least 2)")
    parser.add_argument("--import-rows", type=int, default=10000,
                        help="rows of the import whose dry run is timed")
    parser.add_argument("--postgres", action="store_true",
                        help="on a throwaway PostgreSQL database (BENCH_DATABASE_URL names the "
                             "server), dropped at the end")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-customers-"))
    uri, drop = (throwaway_postgres() if args.postgres
                 else (f"sqlite:///{folder / 'bench.db'}", None))
    try:
        figures = measure(args, folder, uri)
    finally:
        if drop:
            drop()
    print(json.dumps(figures, ensure_ascii=False))


def measure(args, folder, uri):
    """Build the customers on `uri`, then time the search box, an import's dry run and the
    export."""
    app = bench_app(uri, folder)
    started = time.perf_counter()
    with app.app_context():
        upgrade()
        manager, marketer, phones = build(args.customers)
        export_in_background(manager)
        if args.postgres:
            # Fresh statistics after the bulk load, as autovacuum would give a real database.
            with db.engine.connect() as conn:
                conn.exec_driver_sql("ANALYZE")
        names = list(db.session.scalars(select(c.Customer.name).order_by(c.Customer.id)
                                        .limit(args.queries * 10)))
        manager_name, marketer_name = manager.username, marketer.username
        own_phones = list(db.session.scalars(select(c.Customer.phone).where(
            c.Customer.owner_id == marketer.id)))
    build_s = round(time.perf_counter() - started, 1)
    rng = random.Random(3)
    tails = [p[-4:] for p in rng.sample(phones, args.queries)]
    initials = [c.pinyin_of(n)[1] for n in rng.sample(names, args.queries)]
    name_queries = [n[:2] for n in rng.sample(names, args.queries)]
    middle_queries = [n[1:] for n in rng.sample([n for n in names if len(n) > 2], args.queries)]
    figures = {"database": "postgresql" if args.postgres else "sqlite",
               "customers": args.customers, "build_s": build_s}
    for who in (manager_name, marketer_name):
        client = signed_in_client(app, who)
        p95_ms(client, tails[:20])  # warm the caches
        suffix = "" if who == manager_name else "_marketer"
        figures[f"search_phone_tail_p95_ms{suffix}"] = p95_ms(client, tails)
        figures[f"search_initials_p95_ms{suffix}"] = p95_ms(client, initials)
        figures[f"search_name_p95_ms{suffix}"] = p95_ms(client, name_queries)
        figures[f"search_name_middle_p95_ms{suffix}"] = p95_ms(client, middle_queries)
    figures["marketer_owns"] = len(own_phones)
    figures["import_dry_run_10k_s"], counts = import_dry_run(app, marketer_name,
                                                             rows=args.import_rows)
    figures["import_dry_run_counts"] = counts
    figures.update(export_all(app, uri, folder, manager_name))
    with app.app_context():
        db.session.remove()
        db.engine.dispose()  # let a throwaway database go
    return figures


def bench_app(uri, folder):
    return create_app({"SQLALCHEMY_DATABASE_URI": uri, "INSTANCE_DIR": str(folder),
                       "SECRET_KEY": "bench", "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})


def throwaway_postgres():
    """A new database on the local PostgreSQL (BENCH_DATABASE_URL names the server) and the
    function that drops it."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from ops.database import create_database_if_missing
    url = make_url(os.environ.get("BENCH_DATABASE_URL",
                                  "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"))
    url = url.set(drivername="postgresql+psycopg", database=f"hxt_bench_{uuid.uuid4().hex[:8]}")
    create_database_if_missing(url.render_as_string(hide_password=False))

    def drop():
        admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        admin.dispose()
    return url.render_as_string(hide_password=False), drop


if __name__ == "__main__":
    main()
