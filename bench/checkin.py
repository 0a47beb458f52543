"""Speed of the door (issue 5), on its own SQLite database built by the migrations.

    .venv/bin/python bench/checkin.py [--customers 200000]

With N customers and an event of 2,000 confirmed invitations: find-as-you-type (phone tails,
initials, names), check-in POSTs, the door tablet's guest list (roster) and a check-in through
its queue measured in-process with the test client (p95, ms); then
the app under gunicorn (2 workers) on 127.0.0.1 with 8 concurrent clients scanning cards, in
check-ins per second. Ends with one JSON line of the figures.
"""
import argparse
import http.client
import http.cookiejar
import json
import os
import random
import re
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
from customers import build, signed_in_client  # noqa: E402  (bench/customers.py)
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
    find_ms = []
    for query in queries:
        started = time.perf_counter()
        response = client.get(f"/checkin/{event_id}/find", query_string={"code": query},
                              headers={"HX-Request": "true"})
        find_ms.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    with client.session_transaction() as session:
        raw = session["csrf_token"]
    from itsdangerous import URLSafeTimedSerializer
    csrf = URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token").dumps(raw)
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


def over_http(folder, event_id, rows, clients=8, port=5071):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{folder / 'bench.db'}",
           "SECRET_KEY": "bench", "INSTANCE_DIR": str(folder)}
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "2",
         "--worker-class", "gthread", "--threads", os.environ.get("BENCH_THREADS", "1"),
         "--log-level", "warning",
         "app:create_app()"], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
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
            while True:
                with lock:
                    if not queue:
                        connection.close()
                        return
                    token = queue.pop()[0]
                body = urllib.parse.urlencode({"csrf_token": csrf, "code": token,
                                               "token": str(uuid.uuid4())})
                try:
                    connection.request("POST", f"/checkin/{event_id}/scan", body, headers)
                    response = connection.getresponse()
                    response.read()
                    (done if response.status == 200 else errors).append(response.status)
                except Exception as exc:  # counted, reported; reconnect
                    errors.append(repr(exc))
                    connection.close()
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

        threads = [threading.Thread(target=client) for _ in range(clients)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        return round(len(done) / elapsed, 1), len(done), len(errors)
    finally:
        server.terminate()
        server.wait(10)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=200000)
    parser.add_argument("--port", type=int, default=5071,
                        help="where gunicorn listens (a free port on a shared machine)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-checkin-"))
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'bench.db'}",
                      "INSTANCE_DIR": str(folder), "SECRET_KEY": "bench",
                      "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    event_id, rows = prepare(app, args.customers)
    figures = in_process(app, event_id, rows)
    rate, answered, errors = over_http(folder, event_id, rows[400:], port=args.port)
    print(json.dumps({"customers": args.customers, "invitations": len(rows), **figures,
                      "http_checkins_per_s": rate, "http_answered": answered,
                      "http_errors": errors}))


if __name__ == "__main__":
    main()
