"""Speed of the outbox list (issue 28 §2), on a throwaway PostgreSQL database built by the
migrations.

    .venv/bin/python bench/outbox.py [--url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
        [--messages 1000000] [--customers 20000] [--marketers 100] [--repeat 40]

Writes the customers (owned by N marketers) and the messages in bulk (INSERT … SELECT
generate_series), then calls models.messages.outbox_page() — what the outbox page reads — as an
administrator and as a marketer, unfiltered, filtered (status, channel and status, one
marketer) and deep in the list (a keyset page far back), each --repeat times. Prints one line
per case, then one JSON line: `outbox_p95_ms` (the worst case's p95; asked ≤ 200 ms) and the
p95 of each case. The database is dropped at the end.
"""
import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from app import create_app  # noqa: E402
from extensions import db  # noqa: E402
from models import accounts, messages as m  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--marketers", type=int, default=100, help="at least 4")
    parser.add_argument("--repeat", type=int, default=40)
    args = parser.parse_args()
    server = create_engine(args.url, isolation_level="AUTOCOMMIT")
    name = f"bench_outbox_{uuid.uuid4().hex[:8]}"
    with server.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    folder = Path(tempfile.mkdtemp(prefix="bench-outbox-"))
    app = create_app({"SQLALCHEMY_DATABASE_URI": make_url(args.url).set(database=name)
                      .render_as_string(hide_password=False),
                      "INSTANCE_DIR": str(folder), "SECRET_KEY": "bench",
                      "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    try:
        with app.app_context():
            try:
                upgrade()
                figures = measure(args)
            finally:  # its connections closed, or the database cannot be dropped
                db.session.remove()
                db.engine.dispose()
    finally:
        with server.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name}"))
    print(json.dumps(figures))


def measure(args):
    department = accounts.Department(name="销售部")
    db.session.add(department)
    db.session.flush()
    admin = accounts.create_user(username="bench-admin", display_name="管理员",
                                 password="bench-password-1", roles=["admin"],
                                 department=department, actor=None)
    marketers = [accounts.create_user(username=f"bench-m{i}", display_name=f"业务员{i}",
                                      password="bench-password-1", roles=["marketer"],
                                      department=department, actor=None)
                 for i in range(args.marketers)]
    db.session.commit()
    first = marketers[0].id
    started = time.perf_counter()
    db.session.execute(text("""
        INSERT INTO customers (name, name_pinyin, name_initials, phone, phone_reversed, gender,
          phone2, address, district, grade, grade_is_manual, health_notes, notes, family_name,
          family_relation, family_phone, birthday_kind, lunar_leap, birth_year_estimated,
          do_not_call, do_not_sms, address_form, owner_id, department_id, status, created_at,
          intent, owned_since)
        SELECT '顾客' || g, 'guke' || g, 'gk', '+86139' || lpad(g::text, 8, '0'),
          reverse('139' || lpad(g::text, 8, '0')), '', '', '', '', '', false, '', '', '', '',
          '', '', false, false, false, false, '', :first + (g % :n), :department, 'active',
          now(), '', now()
        FROM generate_series(1, :customers) g"""),
        {"first": first, "n": args.marketers, "department": department.id,
         "customers": args.customers})
    first_customer = db.session.scalar(text("SELECT min(id) FROM customers"))
    # Statuses as an outbox ages: most sent or delivered, a few failed, some still queued.
    db.session.execute(text("""
        INSERT INTO messages (customer_id, subject_key, channel, text, phone, status, send_after,
          attempts, provider_id, error, cost_fen, made_by_job, created_at)
        SELECT :first + (g % :customers), 'bench:' || g,
          CASE WHEN g % 5 = 0 THEN 'wechat' ELSE 'sms' END, '您好，明天的讲座别忘了。', '',
          CASE WHEN g % 97 = 0 THEN 'failed' WHEN g % 41 = 0 THEN 'cancelled'
               WHEN g > :recent THEN 'queued' WHEN g % 3 = 0 THEN 'sent' ELSE 'delivered' END,
          now(), 0, '', '', 4, 'bench', now() - ((:total - g) || ' seconds')::interval
        FROM generate_series(1, :total) g"""),
        {"first": first_customer, "customers": args.customers, "total": args.messages,
         "recent": args.messages - 2000})
    db.session.commit()
    db.session.execute(text("ANALYZE"))
    db.session.commit()
    print(f"built {args.messages} messages in {time.perf_counter() - started:.1f} s")
    marketer = marketers[len(marketers) // 2]
    deep = db.session.scalar(text("SELECT max(id) FROM messages")) - args.messages // 2
    cases = {
        "admin_newest": (admin, m.OutboxFilters()),
        "admin_failed": (admin, m.OutboxFilters(status="failed")),
        "admin_wechat_queued": (admin, m.OutboxFilters(channel="wechat", status="queued")),
        "admin_one_marketer": (admin, m.OutboxFilters(marketer_id=marketers[3].id)),
        "marketer_own": (marketer, m.OutboxFilters()),
        "admin_halfway_back": (admin, m.OutboxFilters(before_id=deep)),
    }
    figures = {}
    for label, (user, filters) in cases.items():
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            page = m.outbox_page(user, filters)
            times.append((time.perf_counter() - started) * 1000)
            db.session.rollback()
        times.sort()
        p95 = times[max(0, round(len(times) * 0.95) - 1)]
        figures[f"{label}_p95_ms"] = round(p95, 1)
        print(f"{label}: {len(page.rows)} rows, p95 {p95:.1f} ms, "
              f"median {statistics.median(times):.1f} ms")
    return {"outbox_p95_ms": max(figures.values()), **figures}


if __name__ == "__main__":
    main()
