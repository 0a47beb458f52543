"""Speed of moving a company in (issue 26): spreadsheet imports, on their own SQLite database
built by the migrations.

    .venv/bin/python bench/imports.py [--customers 100000] [--points 50000] [--arrears 50000]
        [--profile FILE]

In a child process that stands for a worker (a fresh interpreter: its peak memory is the
import's, not this script's), a manager imports an old customer list of N rows (Faker zh_CN,
seeded: names, mobiles, genders, birthdays, a source channel) as the import page does a file of
more rows than the setting imports.background_rows: the upload, then the dry run as a
background run worked by the worker's code (jobs/background.py) — `customers_100k_dry_s`, the
two together — then the import as another (every row confirmed, and the birthday care tasks of
the new customers: `customers_100k_import_s`; the rows limit, a setting, is raised to N first).
Then an opening-balances file of M points balances (one per customer just imported, by mobile):
the upload and the import run, which checks every row again (`opening_points_50k_s`, the two
together). Then an opening arrears (期初欠款) file of K debts, again one per customer imported
(by mobile, with an old order number and date, the amount and a due date; the marketer the
customer's owner): the upload, the dry run and the import (`arrears_50k_s`, the three together).
`peak_rss_mb` is the child's peak resident memory (VmHWM, the app and its imports included);
`cpu_s` the CPU seconds the child spent on each figure.
Ends with one JSON line of the figures. `--profile FILE` writes the worker's cProfile
statistics to FILE (slower: for finding the costs, not for the figures).
"""
import argparse
import io
import json
import multiprocessing
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from faker import Faker  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from openpyxl import Workbook  # noqa: E402

from app import create_app  # noqa: E402
from extensions import db  # noqa: E402
from jobs import background as worker  # noqa: E402
from models import accounts, background, customer_import, customers as c, opening  # noqa: E402
from models.settings import update_settings  # noqa: E402


def bench_app(uri, folder):
    return create_app({"SQLALCHEMY_DATABASE_URI": uri, "INSTANCE_DIR": str(folder),
                       "SECRET_KEY": "bench", "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})


def workbook(headers, rows):
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def customer_rows(n, seed=26):
    fake = Faker("zh_CN")
    Faker.seed(seed)
    rng = random.Random(seed)
    for i in range(n):
        yield [fake.name(), f"1{rng.choice('3589')}{i:09d}", rng.choice(["男", "女"]),
               fake.date_of_birth(minimum_age=55, maximum_age=85).isoformat(), "转介绍"]


def in_background(app, kind, batch, actor, **params):
    """A run of `kind` for the batch, queued as the page queues one for a file of more rows
    than imports.background_rows, and worked as the worker works it (jobs/background.py: the
    handler in a transaction of its own, committed with the run's end); its result."""
    run_id = background.enqueue(kind, actor=actor, batch_id=batch.id,
                                rows_total=batch.row_count,
                                params={"mapping": batch.mapping, **params}).id
    db.session.commit()  # as the page's request ends
    worker.work(app)
    run = db.session.get(background.BackgroundRun, run_id)
    assert run.state == "done", run.error
    return run.result


class Timer:
    """Wall seconds (the figure) and the worker's CPU seconds (`cpu_s`: on a shared machine the
    wall clock also counts the others' load) of what runs inside."""

    def __init__(self, figures, name):
        self.figures, self.name = figures, name

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def __exit__(self, *exc):
        self.figures[self.name] = round(time.perf_counter() - self.wall, 1)
        self.figures.setdefault("cpu_s", {})[self.name] = round(time.process_time() - self.cpu, 1)


def run(uri, folder, customers, balances, debts, results, profile=None):
    """In the worker: the imports, timed; put the figures on `results`."""
    profiler = None
    if profile:
        import cProfile
        profiler = cProfile.Profile()
        profiler.enable()
    app = bench_app(uri, folder)
    figures = {}
    with app.app_context():
        manager = accounts.find_user_by_username("boss")
        content = workbook(["姓名", "手机号", "性别", "生日", "来源"], customer_rows(customers))
        with Timer(figures, "customers_100k_dry_s"):
            batch = customer_import.upload("老客户.xlsx", content, actor=manager)  # columns guessed
            counts = in_background(app, "customer_import_dry_run", batch, manager)["counts"]
        with Timer(figures, "customers_100k_import_s"):
            in_background(app, "customer_import", batch, manager)  # the care tasks too
        figures["customers"] = counts
        phones = db.session.scalars(db.select(c.Customer.phone).order_by(c.Customer.id)
                                    .limit(balances)).all()
        content = workbook(["手机号", "积分余额", "获得日期"],
                           ([phone[3:], 100 + i % 5000, "2026-06-01"]
                            for i, phone in enumerate(phones)))
        with Timer(figures, "opening_points_50k_s"):
            batch = opening.upload(opening.KINDS["points"], "期初积分.xlsx", content,
                                   actor=manager)
            result = in_background(app, "opening_import", batch, manager, mode="all")
        figures["opening_points"] = result["imported"]
        phones = db.session.scalars(db.select(c.Customer.phone).order_by(c.Customer.id.desc())
                                    .limit(debts)).all()
        content = workbook(["手机号", "原单号", "订单日期", "欠款金额", "约定还款日"],
                           ([phone[3:], f"JD-{i:06d}", "2025-11-20", f"{100 + i % 9000}.50",
                             "2026-12-31"] for i, phone in enumerate(phones)))
        with Timer(figures, "arrears_50k_s"):
            batch = opening.upload(opening.KINDS["arrears"], "期初欠款.xlsx", content,
                                   actor=manager)
            counts = in_background(app, "opening_dry_run", batch, manager)["counts"]
            result = in_background(app, "opening_import", batch, manager, mode="all")
        figures["arrears"] = result["imported"]
        assert counts["import"] == len(phones), counts
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(profile)
    with open("/proc/self/status") as status:
        peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    figures["peak_rss_mb"] = round(peak / 1024)
    figures["cpu_s"] = figures.pop("cpu_s")  # last
    results.put(figures)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--points", type=int, default=50_000)
    parser.add_argument("--arrears", type=int, default=50_000)
    parser.add_argument("--profile", help="write the worker's cProfile statistics here")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-imports-"))
    uri = f"sqlite:///{folder / 'bench.db'}"
    app = bench_app(uri, folder)
    with app.app_context():
        upgrade()
        hq = accounts.create_department("总部", actor=None)
        accounts.create_user(username="boss", display_name="老板", password="bench2026x",
                             roles=["manager", "marketer"], department=hq, actor=None)
        c.ensure_default_channels()
        admin = accounts.create_user(username="admin", display_name="管理员",
                                     password="bench2026x", roles=["admin"], department=hq,
                                     actor=None)
        update_settings({"customers.import_max_rows": max(args.customers, 20000)}, actor=admin)
        db.session.commit()
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    child = context.Process(target=run, args=(uri, str(folder), args.customers,
                                              min(args.points, args.customers),
                                              min(args.arrears, args.customers), results,
                                              args.profile))
    child.start()
    figures = results.get(timeout=3600)
    child.join()
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
