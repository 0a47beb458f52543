"""Speed of the door (issue 5), on its own SQLite database built by the migrations.

    .venv/bin/python bench/checkin.py [--customers 200000]

With N customers and an event of 2,000 confirmed invitations: the server's door search (phone
tails, initials, names posted to the scan box, as a browser without the door's script does),
check-in POSTs, the door tablet's guest list (roster) and a check-in through its queue measured
in-process with the test client (p95, ms); then
the app under gunicorn (2 workers) on 127.0.0.1 with 8 concurrent clients scanning cards, in
check-ins per second. Ends with one JSON line of the figures.

With --postgres the same runs on a throwaway PostgreSQL database (dropped at the end), and the
HTTP part is served by `make run-pg` itself: 4 gunicorn workers on PostgreSQL. With --poll each
client also polls the door's conflicts before every scan: reads between the writes, as a door
has (its tablets poll the conflicts now and then and search as staff type), only many more.
"""
import argparse
import http.client
import http.cookiejar
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
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import select  # noqa: E402

from app import create_app  # noqa: E402
# bench/customers.py
from customers import build, signed_in_client, throwaway_postgres  # noqa: E402
from extensions import db  # noqa: E402
from models import accounts, customers as c, events as ev  # noqa: E402
from models.base import utcnow  # noqa: E402


def prepare(app, n):
    with app.app_context():
        upgrade()
        manager, marketer, _phones = build(n)
        staff = accounts.create_user(username="door", display_name="会务", password="bench2026x",
                                     roles=["event_staff"], actor=None)
        start = utcnow() + timedelta(hours=1)
        event = ev.create_event(title="压测讲座", kind="lecture", venue="酒店",
                                starts_at=start, ends_at=start + timedelta(hours=3),
                                capacity=5000, actor=manager)
        ev.change_event_status(event, "open", actor=manager)
        ev.set_event_staff(event, [staff], actor=manager)
        ids = list(db.session.scalars(select(c.Customer.id).where(
            c.Customer.status == "active").limit(2000)))
        ev.bulk_invite(event, ids, actor=manager)
        invitations = db.session.scalars(select(ev.Invitation).where(
            ev.Invitation.event_id == event.id)).all()
        for invitation in invitations:
            invitation.status = "confirmed"
        db.session.commit()
        rows = [(i.token, i.customer.phone[-4:], i.customer.name_initials, i.customer.name)
                for i in invitations]
        return event.id, rows


def p95(values):
    return round(statistics.quantiles(values, n=20)[-1], 1)


def in_process(app, event_id, rows):
    client = signed_in_client(app, "door")
    rng = random.Random(1)
    sample = rng.sample(rows, 200)
    queries = [r[1] for r in sample[:70]] + [r[2] for r in sample[70:140]] + \
        [r[3][:2] for r in sample[140:]]
    with client.session_transaction() as session:
        raw = session["csrf_token"]
    from itsdangerous import URLSafeTimedSerializer
    csrf = URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token").dumps(raw)
    # The server's door search: what the scan box posts when it holds no card's code (a tablet
    # with the door's script searches its own guest list instead).
    find_ms = []
    for query in queries:
        started = time.perf_counter()
        response = client.post(f"/checkin/{event_id}/scan", headers={"HX-Request": "true"},
                               data={"code": query, "token": str(uuid.uuid4()),
                                     "csrf_token": csrf})
        find_ms.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    checkin_ms = []
    for token, *_rest in rows[:200]:
        started = time.perf_counter()
        response = client.post(f"/checkin/{event_id}/scan", headers={"HX-Request": "true"},
                               data={"code": token, "token": str(uuid.uuid4()),
                                     "csrf_token": csrf})
        checkin_ms.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    # The door tablet: its guest list (fetched when the screen opens and every minute), and a
    # check-in through its queue.
    roster_ms, roster_bytes = [], 0
    for _ in range(20):
        started = time.perf_counter()
        response = client.get(f"/checkin/{event_id}/roster")
        roster_ms.append((time.perf_counter() - started) * 1000)
        roster_bytes = len(response.get_data())
        assert response.status_code == 200 and len(response.get_json()["guests"]) == len(rows)
    queue_ms = []
    for token, *_rest in rows[200:400]:
        started = time.perf_counter()
        response = client.post(f"/checkin/{event_id}/queue",
                               data={"kind": "check_in", "code": token, "queued": "y",
                                     "token": str(uuid.uuid4()), "csrf_token": csrf})
        queue_ms.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    return {"find_p95_ms": p95(find_ms), "checkin_p95_ms": p95(checkin_ms),
            "roster_p95_ms": p95(roster_ms), "roster_kb": round(roster_bytes / 1024),
            "queue_checkin_p95_ms": p95(queue_ms)}


def over_http(folder, event_id, rows, clients=8, port=5071, postgres_url=None, poll=False):
    """Check-ins per second over HTTP: gunicorn with 2 workers on the SQLite file, or, given
    `postgres_url`, the app as `make run-pg` serves it (4 workers on that database)."""
    env = {**os.environ, "DATABASE_URL": postgres_url or f"sqlite:///{folder / 'bench.db'}",
           "SECRET_KEY": "bench", "INSTANCE_DIR": str(folder)}
    if postgres_url:
        # make's own set-up, create-database, migrations and demo-data run too (and do nothing
        # here); its per-request log lines go to a file, not into the JSON line.
        server = subprocess.Popen(["make", "--no-print-directory", "run-pg",
                                   f"PG_URL={postgres_url}", f"PORT={port}"], cwd=ROOT, env=env,
                                  stdout=open(folder / "run-pg.log", "ab"),
                                  stderr=subprocess.STDOUT, start_new_session=True)
    else:
        server = subprocess.Popen(
            [str(ROOT / ".venv/bin/gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "2",
             "--worker-class", "gthread", "--threads", os.environ.get("BENCH_THREADS", "1"),
             "--log-level", "warning",
             "app:create_app()"], cwd=ROOT, env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        queue = list(rows)
        lock = threading.Lock()
        done, errors = [], []

        def client():
            # Keep-alive connection, cookies by hand: a light client, so that the measurement
            # is of the server and not of Python's urllib on the same two cores.
            jar = http.cookiejar.CookieJar()
            opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
            with opener.open(base + "/auth/login", timeout=30) as response:
                page = response.read().decode()
            csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)[1]
            with opener.open(base + "/auth/login", urllib.parse.urlencode({
                    "csrf_token": csrf, "username": "door", "password": "bench2026x"}).encode(),
                    timeout=30) as response:
                response.read()
            with opener.open(f"{base}/checkin/{event_id}", timeout=30) as response:
                page = response.read().decode()
            csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)[1]
            cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            headers = {"Cookie": cookie, "HX-Request": "true",
                       "Content-Type": "application/x-www-form-urlencoded"}
            ready.wait()  # signed in and on the door screen: the clock starts when all are
            while True:
                with lock:
                    if not queue:
                        connection.close()
                        return
                    token = queue.pop()[0]
                body = urllib.parse.urlencode({"csrf_token": csrf, "code": token,
                                               "token": str(uuid.uuid4())})
                try:
                    if poll:  # a read between the writes
                        connection.request("GET", f"/checkin/{event_id}/conflicts",
                                           headers=headers)
                        connection.getresponse().read()
                    connection.request("POST", f"/checkin/{event_id}/scan", body, headers)
                    response = connection.getresponse()
                    response.read()
                    (done if response.status == 200 else errors).append(response.status)
                except Exception as exc:  # counted, reported; reconnect
                    errors.append(repr(exc))
                    connection.close()
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

        threads = [threading.Thread(target=client) for _ in range(clients)]
        ready = threading.Barrier(clients + 1)
        for thread in threads:
            thread.start()
        ready.wait()
        started = time.perf_counter()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        return round(len(done) / elapsed, 1), len(done), len(errors)
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # make and the gunicorn it started
        server.wait(30)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=200000)
    parser.add_argument("--port", type=int, default=5071,
                        help="where gunicorn listens (a free port on a shared machine)")
    parser.add_argument("--postgres", action="store_true",
                        help="on a throwaway PostgreSQL database, over HTTP as `make run-pg` "
                             "serves it (4 workers)")
    parser.add_argument("--poll", action="store_true",
                        help="each client also polls the door's conflicts before every scan "
                             "(a door's mixed traffic)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-checkin-"))
    uri, drop = (throwaway_postgres() if args.postgres
                 else (f"sqlite:///{folder / 'bench.db'}", None))
    try:
        app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "INSTANCE_DIR": str(folder),
                          "SECRET_KEY": "bench", "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
        event_id, rows = prepare(app, args.customers)
        if args.postgres:
            # Fresh statistics after the bulk load, as autovacuum would give a real database.
            with app.app_context(), db.engine.connect() as conn:
                conn.exec_driver_sql("ANALYZE")
        figures = in_process(app, event_id, rows)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        rate, answered, errors = over_http(folder, event_id, rows[400:], port=args.port,
                                           postgres_url=uri if args.postgres else None,
                                           poll=args.poll)
    finally:
        if drop:
            drop()
    print(json.dumps({"database": "postgresql, make run-pg (4 workers)" if args.postgres
                      else "sqlite, gunicorn (2 workers)",
                      "customers": args.customers, "invitations": len(rows),
                      "poll_before_each_scan": args.poll, **figures,
                      "http_checkins_per_s": rate, "http_answered": answered,
                      "http_errors": errors}))


if __name__ == "__main__":
    main()
