"""Speed of the door (issue 5), on its own SQLite database built by the migrations.

    .venv/bin/python bench/checkin.py [--customers 200000] [--invitations 2000] [--workers 2]

With N customers and an event of 2,000 confirmed invitations (--invitations): the server's door
search (200 phone tails, initials, names posted to the scan box, as a browser without the door's
script does), 200 check-in POSTs to the scan box, the door tablet's guest list (roster) and 200
check-ins through its queue (as the door's script sends it) measured in-process with the test
client (p95, ms; each sample a tenth of the invitations); then the app under gunicorn (2 workers,
--workers) on 127.0.0.1 with 8 concurrent clients checking guests in, in check-ins per second:
first scanning cards into the scan box (the other 1,600 guests), then as door tablets do, one
write of the queue a request (1,600 guests of a second such event). Ends with one JSON line of
the figures (`find_p95_ms`, `checkin_p95_ms`, `roster_p95_ms`, `queue_checkin_p95_ms`,
`http_checkins_per_s` and `queue_checkins_per_s`).

With --postgres the same runs on a throwaway PostgreSQL database (dropped at the end), and the
HTTP part is served by `make run-pg` itself: 4 gunicorn workers on PostgreSQL. With --poll each
client also polls the door's conflicts before every check-in: reads between the writes, as a
door has (its tablets poll the conflicts now and then and search as staff type), only many more.
"""
import argparse
import contextlib
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
from collections import namedtuple
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import select  # noqa: E402

from app import create_app  # noqa: E402
# bench/customers.py
from customers import build, csrf_token, signed_in_client, throwaway_postgres  # noqa: E402
from extensions import db  # noqa: E402
from models import accounts, customers as c, events as ev  # noqa: E402
from models.base import utcnow  # noqa: E402


#: A guest as the door tablet's list has them: the card's code, what staff type to find them,
#: and what the tablet sends when it checks them in (static/js/door/main.js checkIn()).
Guest = namedtuple("Guest", "code phone_tail initials name invitation_id companions")


def prepare(app, n, invitations=2000):
    """N customers and an open event of `invitations` confirmed invitations with its door staff
    "door": (event id, [Guest])."""
    with app.app_context():
        upgrade()
        build(n)
        accounts.create_user(username="door", display_name="会务", password="bench2026x",
                             roles=["event_staff"], actor=None)
        return door_event("压测讲座", offset=0, size=invitations)


def door_event(title, *, offset, size=2000):
    """An open event run by the door staff, inviting `size` active customers from the
    `offset`-th on, every invitation confirmed: (event id, [Guest])."""
    manager = db.session.scalar(select(accounts.User).where(accounts.User.username == "boss"))
    staff = db.session.scalar(select(accounts.User).where(accounts.User.username == "door"))
    start = utcnow() + timedelta(hours=1)
    event = ev.create_event(title=title, kind="lecture", venue="酒店",
                            starts_at=start, ends_at=start + timedelta(hours=3),
                            capacity=5000, actor=manager)
    ev.change_event_status(event, "open", actor=manager)
    ev.set_event_staff(event, [staff], actor=manager)
    ids = list(db.session.scalars(select(c.Customer.id).where(
        c.Customer.status == "active").order_by(c.Customer.id).offset(offset).limit(size)))
    ev.bulk_invite(event, ids, actor=manager)
    invitations = db.session.scalars(select(ev.Invitation).where(
        ev.Invitation.event_id == event.id)).all()
    for invitation in invitations:
        invitation.status = "confirmed"
    db.session.commit()
    return event.id, [Guest(i.token, i.customer.phone[-4:], i.customer.name_initials,
                            i.customer.name, i.id, i.companions) for i in invitations]


def p95(values):
    return round(statistics.quantiles(values, n=20)[-1], 1)


# A check-in, two ways. Each gives (path, form, headers) for a guest's card and tells from the
# answer (status, body) whether the guest is in.

def scan_request(event_id, guest, csrf):
    """A card scanned into the server's scan box (a browser without the door's script)."""
    return (f"/checkin/{event_id}/scan",
            {"csrf_token": csrf, "code": guest.code, "token": str(uuid.uuid4())},
            {"HX-Request": "true"})


def scan_answered(status, body):
    return status == 200


def queue_request(event_id, guest, csrf):
    """A card scanned on the door tablet, sent as its script sends it: the card is in the
    tablet's guest list, so the check-in of that invitation with the companions expected goes
    into the queue with a one-time token and is sent at once, one write a request
    (static/js/door/main.js scanned() and checkIn(), queue.js enqueue() and send())."""
    return (f"/checkin/{event_id}/queue",
            {"csrf_token": csrf, "kind": "check_in", "token": str(uuid.uuid4()),
             "invitation_id": guest.invitation_id, "companions": guest.companions,
             "queued_ms": time.time_ns() // 1_000_000, "device": "T-BENCH"},
            {"Accept": "application/json", "X-CSRFToken": csrf})


def queue_answered(status, body):
    """What the tablet reads: a JSON answer with `ok` (queue.js send()); the guest is in when it
    is true and carries the check-in."""
    if status != 200:
        return False
    answer = json.loads(body)
    return answer["ok"] is True and answer["check_in"] is not None


MODES = {"scan": (scan_request, scan_answered), "queue": (queue_request, queue_answered)}


def in_process(app, event_id, rows):
    """The door in-process, each sample a tenth of the guests (200 of 2,000): searches, scans
    and queued check-ins of rows[:2 * tenth]; the rest are left for over_http."""
    client = signed_in_client(app, "door")
    rng = random.Random(1)
    tenth = len(rows) // 10
    sample = rng.sample(rows, tenth)
    third = tenth * 7 // 20  # 70 of 200
    queries = [r.phone_tail for r in sample[:third]] + \
        [r.initials for r in sample[third:2 * third]] + [r.name[:2] for r in sample[2 * third:]]
    with client.session_transaction() as session:  # signing in starts a new session
        session["csrf_token"] = "b" * 40
    csrf = csrf_token(app)
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

    def check_in(mode, guests):
        request, answered = MODES[mode]
        times = []
        for guest in guests:
            path, form, headers = request(event_id, guest, csrf)
            started = time.perf_counter()
            response = client.post(path, headers=headers, data=form)
            times.append((time.perf_counter() - started) * 1000)
            assert answered(response.status_code, response.get_data()), response.status_code
        return p95(times)

    checkin_p95 = check_in("scan", rows[:tenth])
    # The door tablet: its guest list (fetched when the screen opens and every minute), and a
    # check-in through its queue.
    roster_ms, roster_bytes = [], 0
    for _ in range(20):
        started = time.perf_counter()
        response = client.get(f"/checkin/{event_id}/roster")
        roster_ms.append((time.perf_counter() - started) * 1000)
        roster_bytes = len(response.get_data())
        assert response.status_code == 200 and len(response.get_json()["guests"]) == len(rows)
    queue_p95 = check_in("queue", rows[tenth:2 * tenth])
    return {"find_p95_ms": p95(find_ms), "checkin_p95_ms": checkin_p95,
            "roster_p95_ms": p95(roster_ms), "roster_kb": round(roster_bytes / 1024),
            "queue_checkin_p95_ms": queue_p95}


@contextlib.contextmanager
def serving(folder, port=5071, postgres_url=None, workers=2):
    """The app over HTTP on 127.0.0.1:`port`, until the block ends: gunicorn with `workers` on
    the SQLite file, or, given `postgres_url`, the app as `make run-pg` serves it (4 workers on
    that database)."""
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
            [str(ROOT / ".venv/bin/gunicorn"), "--bind", f"127.0.0.1:{port}",
             "--workers", str(workers),
             "--worker-class", "gthread", "--threads", os.environ.get("BENCH_THREADS", "1"),
             "--log-level", "warning",
             "app:create_app()"], cwd=ROOT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        yield
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # make and the gunicorn it started
        server.wait(30)


def over_http(event_id, rows, mode="scan", clients=8, port=5071, poll=False):
    """Check-ins per second over HTTP (a server `serving`), `clients` at once checking in
    `rows` by `mode` (MODES): (rate, answered, errors)."""
    base = f"http://127.0.0.1:{port}"
    request, answered = MODES[mode]
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
        ready.wait()  # signed in and on the door screen: the clock starts when all are
        while True:
            with lock:
                if not queue:
                    connection.close()
                    return
                guest = queue.pop()
            path, form, extra = request(event_id, guest, csrf)
            headers = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded",
                       **extra}
            try:
                if poll:  # a read between the writes
                    connection.request("GET", f"/checkin/{event_id}/conflicts",
                                       headers=headers)
                    connection.getresponse().read()
                connection.request("POST", path, urllib.parse.urlencode(form), headers)
                response = connection.getresponse()
                body = response.read()
                (done if answered(response.status, body) else errors).append(response.status)
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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=200000)
    parser.add_argument("--invitations", type=int, default=2000,
                        help="guests of each of the two door events (at least 20; the customers "
                             "must be twice as many)")
    parser.add_argument("--workers", type=int, default=2,
                        help="gunicorn's workers on SQLite (--postgres: make run-pg's 4)")
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
        event_id, rows = prepare(app, args.customers, args.invitations)
        with app.app_context():  # the same door again, for the tablets' queue over HTTP
            queue_event_id, queue_rows = door_event("压测讲座（平板）", offset=len(rows),
                                                    size=args.invitations)
        if args.postgres:
            # Fresh statistics after the bulk load, as autovacuum would give a real database.
            with app.app_context(), db.engine.connect() as conn:
                conn.exec_driver_sql("ANALYZE")
        figures = in_process(app, event_id, rows)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        with serving(folder, port=args.port, postgres_url=uri if args.postgres else None,
                     workers=args.workers):
            rest = 2 * (len(rows) // 10)  # measured in-process
            scan = over_http(event_id, rows[rest:], "scan", port=args.port, poll=args.poll)
            queue = over_http(queue_event_id, queue_rows[rest:], "queue", port=args.port,
                              poll=args.poll)
    finally:
        if drop:
            drop()
    print(json.dumps({"database": "postgresql, make run-pg (4 workers)" if args.postgres
                      else f"sqlite, gunicorn ({args.workers} workers)",
                      "customers": args.customers, "invitations": len(rows),
                      "poll_before_each_scan": args.poll, **figures,
                      "http_checkins_per_s": scan[0], "http_answered": scan[1],
                      "http_errors": scan[2], "queue_checkins_per_s": queue[0],
                      "queue_answered": queue[1], "queue_errors": queue[2]}))

if __name__ == "__main__":
    main()
