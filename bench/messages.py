"""Speed of the outbox (issue #28), on its own SQLite database built by the migrations.

    .venv/bin/python bench/messages.py [--guests 2000] [--workers 4] [--batch 200]
        [--outbox-messages 1000000] [--outbox-url postgresql+psycopg://…/postgres]

Builds an event starting tomorrow with --guests confirmed guests (customers with mobiles, a
marketer each of 20) and an active reminder template with an Aliyun template code. Then:

- the nightly job queues the reminder the day before for every confirmed guest, in its one
  committed transaction (jobs/messages.event_reminders: the rules checked per guest, the fields
  filled in): `queue_2000_s` (asked ≤ 2 s);
- the sender sends them all through the Aliyun adapter (the official SDK, V3-signed requests)
  to the local fake provider (tests/fake_aliyun.py, in a process of its own on 127.0.0.1, which
  checks every signature), --workers requests at once, --batch messages a run, each run
  committed — jobs.send_messages(), what the scheduler runs every minute: `send_per_s` (asked
  ≥ 200 with 4 concurrent requests), `sent`.

- the outbox page's list (models.messages.outbox_page, what /messages/ reads) with
  --outbox-messages messages on PostgreSQL, as an administrator and as a marketer, filtered and
  deep in the list: bench/outbox.py in a process of its own (a throwaway database beside
  --outbox-url's, dropped after) — `outbox_p95_ms`, its worst case (asked ≤ 200 ms); null with
  --outbox-messages 0 or when no PostgreSQL answers.
Ends with one JSON line of the figures. No request leaves 127.0.0.1.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import time as clock_time, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask import g  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import func, insert, select, update  # noqa: E402

from app import create_app  # noqa: E402
from extensions import db  # noqa: E402
import jobs  # noqa: E402
from jobs import messages as message_jobs, sending  # noqa: E402
from models import accounts, customers as c, events as ev, messages as m  # noqa: E402
from models.base import begin_write, utcnow  # noqa: E402
from models.clock import at_local, local_day  # noqa: E402
from models.settings import update_settings  # noqa: E402

OUTBOX_URL = os.environ.get("BENCH_DATABASE_URL",
                            "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "秀兰桂英玉珍建国志强淑芬丽华明德春梅凤英金花"
KEY_ID, KEY_SECRET = "LTAIbenchkey", "bench-secret-0123456789"


def start_fake():
    """The fake provider in its own process; returns (process, endpoint)."""
    process = subprocess.Popen([sys.executable, str(ROOT / "tests" / "fake_aliyun.py"), KEY_ID,
                                KEY_SECRET], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               text=True, cwd=ROOT)
    port = process.stdout.readline().strip()
    return process, f"127.0.0.1:{port}"


def build(args, day):
    """Users, customers, tomorrow's event with every customer a confirmed guest, the template."""
    admin = accounts.create_user(username="admin", display_name="王建国", password="bench2026x",
                                 roles=["admin"], actor=None)
    marketers = [accounts.create_user(username=f"m{n}", display_name=f"顾问{n}",
                                      password="bench2026x", roles=["marketer"], actor=None,
                                      phone=f"1390000{n:04d}")
                 for n in range(20)]
    now = utcnow()
    rows = []
    for i in range(args.guests):
        name = SURNAMES[i % len(SURNAMES)] + GIVEN[i * 7 % len(GIVEN)] + GIVEN[i * 3 % len(GIVEN)]
        pinyin, initials = c.pinyin_of(name)
        rows.append({"name": name, "name_pinyin": pinyin, "name_initials": initials,
                     "phone": f"+86138{i:08d}", "phone_reversed": f"138{i:08d}"[::-1],
                     "gender": "F" if i % 3 else "M", "birth_year": 1940 + i % 30,
                     "owner_id": marketers[i % len(marketers)].id, "status": "active",
                     "created_at": now, "owned_since": now})
    db.session.execute(insert(c.Customer), rows)
    start = at_local(day + timedelta(days=1), clock_time(9, 30))
    event = ev.create_event(title="金秋养生健康讲座", kind="lecture", venue="幸福大酒店三楼",
                            starts_at=start, ends_at=start + timedelta(hours=3),
                            capacity=max(5000, args.guests), actor=admin)
    ev.change_event_status(event, "open", actor=admin)
    db.session.commit()
    ids = list(db.session.scalars(select(c.Customer.id).order_by(c.Customer.id)))
    ev.bulk_invite(event, ids, actor=admin)
    db.session.execute(update(ev.Invitation).where(ev.Invitation.event_id == event.id)
                       .values(status="confirmed"))
    m.save_template(None, name="会前提醒", purpose="reminder", provider_code="SMS_465900001",
                    body="{称呼}您好，{会议名称}定于{时间}在{地点}举行，敬请准时参加。"
                         "顾问{顾问}，电话{顾问电话}。", actor=admin)
    db.session.commit()
    return admin


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--guests", type=int, default=2000, help="confirmed guests")
    parser.add_argument("--workers", type=int, default=sending.SEND_WORKERS,
                        help="requests to the provider at once")
    parser.add_argument("--batch", type=int, default=200, help="messages per sender run")
    parser.add_argument("--outbox-messages", type=int, default=1_000_000,
                        help="messages in the outbox measured (0: not measured)")
    parser.add_argument("--outbox-url", default=OUTBOX_URL,
                        help="the PostgreSQL server the outbox is measured on")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-messages-"))
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'bench.db'}",
                      "INSTANCE_DIR": str(folder), "SECRET_KEY": "bench",
                      "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        os.environ.pop(name, None)
    os.environ[sending.ENV_KEY_ID], os.environ[sending.ENV_KEY_SECRET] = KEY_ID, KEY_SECRET
    fake, endpoint = start_fake()
    figures = {}
    try:
        with app.test_request_context():
            upgrade()
            day = local_day(utcnow())
            admin = build(args, day)
            # No quiet hours: the reminders queued now are due now, whatever the hour.
            update_settings({"messages.provider": "aliyun", "messages.aliyun_sign_name": "会销通",
                             "messages.aliyun_endpoint": endpoint,
                             "messages.aliyun_protocol": "http", "messages.quiet_from_hour": 0,
                             "messages.quiet_until_hour": 0}, actor=admin)
            db.session.commit()

            g.pop("_settings", None)
            started = time.perf_counter()
            begin_write()
            queued = message_jobs.event_reminders(day, utcnow())
            db.session.commit()
            figures["queue_2000_s"] = round(time.perf_counter() - started, 2)
            assert queued == args.guests, (queued, args.guests)

            g.pop("_settings", None)
            jobs.SEND_BATCH, sending.SEND_WORKERS = args.batch, args.workers
            started = time.perf_counter()
            sent = jobs.send_messages(app)  # what the scheduler runs every minute
            elapsed = time.perf_counter() - started
            figures["send_per_s"] = round(sent / elapsed, 1)
            figures["sent"], figures["workers"] = sent, args.workers
            db.session.expire_all()
            left = db.session.scalar(select(func.count(m.Message.id))
                                     .where(m.Message.status != "sent"))
            assert sent == args.guests and left == 0, (sent, left)
    finally:
        fake.stdin.close()
        fake.wait(timeout=10)
    figures["outbox_p95_ms"] = outbox_p95(args)
    print(json.dumps(figures))


def outbox_p95(args):
    """bench/outbox.py's worst p95 (ms), or None (not asked, or it could not run)."""
    if args.outbox_messages <= 0:
        return None
    customers = max(10, min(20_000, args.outbox_messages // 50))
    result = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("outbox.py")), "--url", args.outbox_url,
         "--messages", str(args.outbox_messages), "--customers", str(customers),
         "--marketers", str(max(5, min(100, customers // 10))),
         "--repeat", "40" if args.outbox_messages >= 100_000 else "3"],
        capture_output=True, text=True)
    if result.returncode != 0:
        print(f"bench/outbox.py failed: {result.stderr[-1500:]}", file=sys.stderr)
        return None
    return json.loads(result.stdout.strip().splitlines()[-1])["outbox_p95_ms"]


if __name__ == "__main__":
    main()
