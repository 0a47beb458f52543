"""Crash safety (issue 15): nothing acknowledged is lost, nothing is written twice, when every
gunicorn process is killed with SIGKILL in the middle of the day's work.

    .venv/bin/python bench/crash.py [--customers 150] [--requests 600] [--kills 2] [--seconds 300]

Builds its own PostgreSQL database (a throwaway name beside BENCH_DATABASE_URL, default the local
server; dropped at the end), migrates it, seeds customers owing money, holding points and goods in
custody, and an open event with their invitations. Starts gunicorn (deploy/gunicorn.conf.py, 4
workers) on 127.0.0.1 and a free port; 8 client threads, signed in as a manager, send payments,
points redemptions, custody pickups and check-ins: each loads the form's page for its one-time
token and posts it, retrying with the same token after an error or a timeout. Mid-load the
script kills the master and every worker with SIGKILL, starts gunicorn again, and lets the
clients finish. Then it compares what the clients were told with what the database holds:

- `acked`: requests answered with success (a redirect to the slip, the check-in card);
- `lost`: acked but not in the database; `doubled`: a token written more than once, or a request
  that wrote more than its one row;
- `ledgers_clean`: `flask --app app check-ledgers` exits 0.

Every loop is bounded in count and in time, and only 127.0.0.1 is spoken to. Prints one JSON line.
"""
import argparse
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import create_engine, func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from app import create_app  # noqa: E402
from extensions import db  # noqa: E402
from models import (accounts, custody as cu, customers as c, events as ev,  # noqa: E402
                    inventory as inv, order_taking, orders as o, points as pt)
from models.base import begin_write, new_token, utcnow  # noqa: E402
from ops.database import create_database_if_missing  # noqa: E402

SERVER = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
PASSWORD = "bench2026x"
KINDS = ("payment", "redemption", "pickup", "checkin")
#: Where each kind's one-time token lands.
TOKEN_TABLES = {"payment": "payments", "redemption": "points_redemptions",
                "pickup": "custody_pickups", "checkin": "check_ins"}
CSRF = re.compile(r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"')


def note(text):
    print(text, file=sys.stderr, flush=True)


# --- The database --------------------------------------------------------------------------------

def throwaway_database():
    url = make_url(SERVER).set(drivername="postgresql+psycopg",
                               database=f"hxt_crash_{uuid.uuid4().hex[:10]}")
    uri = url.render_as_string(hide_password=False)
    create_database_if_missing(uri)

    def drop():
        admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        admin.dispose()
    return uri, drop


def seed(n_customers):
    """A manager who does everything at the door and the till, and per customer: an order owing
    ¥5,000 (taken home), an order of 200 boxes left in custody and paid for, 100,000 points, and
    an invitation to an event open for check-in."""
    begin_write()
    hq = accounts.create_department("总部", actor=None)
    manager = accounts.create_user(username="boss", display_name="老板", password=PASSWORD,
                                   roles=["manager"], department=hq, actor=None)
    marketer = accounts.create_user(username="m1", display_name="刘芳", password=PASSWORD,
                                    roles=["marketer"], department=hq, actor=None)
    clerk = accounts.create_user(username="w1", display_name="孙强", password=PASSWORD,
                                 roles=["warehouse"], department=hq, actor=None)
    warehouse = inv.create_warehouse({"code": "CRASH", "name": "压测仓", "kind": "main"},
                                     actor=clerk)
    goods = inv.create_product({"sku": "CR-001", "name": "灵芝孢子粉", "unit": "盒",
                                "sale_price": 500000, "standard_cost": 6000, "for_sale": True},
                               actor=clerk)
    prize = inv.create_product({"sku": "CR-900", "name": "养生保温杯", "unit": "个",
                                "sale_price": 0, "standard_cost": 1500, "is_gift": True,
                                "redeemable": True, "points_price": 10}, actor=clerk)
    inv.create_receipt(warehouse=warehouse, supplier="康源", actor=clerk, token=new_token(),
                       lines=[{"product": goods, "quantity": n_customers * 201 + 100,
                               "batch_number": "B1"},
                              {"product": prize, "quantity": 100000, "batch_number": "P1"}])
    start = utcnow() + timedelta(hours=1)
    event = ev.create_event(title="压测讲座", kind="lecture", venue="酒店", starts_at=start,
                            ends_at=start + timedelta(hours=3), capacity=n_customers + 10,
                            actor=manager)
    ev.change_event_status(event, "open", actor=manager)
    db.session.commit()
    targets = []
    begin_write()
    for i in range(n_customers):
        customer = c.create_customer(c.CustomerData(name=f"顾客{i:04d}",
                                                    phone=f"139{i + 10000000:08d}"),
                                     actor=marketer, owner=marketer)
        owing = order_taking.create_order(customer, lines=[{"product": goods, "quantity": 1}],
                                          actor=marketer, token=new_token(),
                                          warehouse=warehouse, channel="store")
        # Taken by the manager: ¥1 a box is far below the list price and the floor, which only a
        # manager may give without a second confirmation (models/orders/pricing.py).
        held = order_taking.create_order(customer, lines=[{"product": goods, "quantity": 200,
                                                           "unit_price": 100, "held": 200}],
                                         actor=manager, token=new_token(), warehouse=warehouse,
                                         channel="store")
        o.receive_payment(held, amount=held.total, method="cash", actor=manager,
                          token=new_token())
        pt.adjust(customer, 100000, reason="压测", actor=manager, token=new_token())
        invitation = ev.invite(event, customer, actor=marketer)
        targets.append({"customer": customer.id, "order": owing.id,
                        "line": held.lines[0].id, "card": invitation.token})
        if i % 50 == 49:
            db.session.commit()
            begin_write()
    db.session.commit()
    return {"event": event.id, "warehouse": warehouse.id, "prize": prize.id,
            "targets": targets}


# --- gunicorn ------------------------------------------------------------------------------------

def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """gunicorn on 127.0.0.1 with the deployment's configuration, restartable after a kill."""

    def __init__(self, uri, folder, port, workers):
        self.port, self.log = port, open(folder / "gunicorn.log", "ab")
        self.env = {**os.environ, "DATABASE_URL": uri, "SECRET_KEY": "bench-crash",
                    "INSTANCE_DIR": str(folder), "BIND": f"127.0.0.1:{port}",
                    "WORKERS": str(workers), "THREADS": "2", "LOG_LEVEL": "warning"}
        self.process = None

    def start(self, wait_s=60):
        self.process = subprocess.Popen(
            [str(ROOT / ".venv/bin/gunicorn"), "-c", str(ROOT / "deploy/gunicorn.conf.py"),
             "app:create_app()"], cwd=ROOT, env=self.env, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                connection.request("GET", "/healthz")
                if connection.getresponse().status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("gunicorn did not start")

    def workers(self):
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(pid) for pid in children.read_text().split()]
        except OSError:
            return []

    def kill(self):
        """SIGKILL every worker and the master: no clean-up, no finished requests."""
        pids = self.workers() + [self.process.pid]
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists()
                                                  and _alive(pid) for pid in pids):
            time.sleep(0.05)
        return len(pids)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


def _alive(pid):
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


# --- The clients ---------------------------------------------------------------------------------

class Client:
    """One tablet: a keep-alive connection with the manager's session cookie. Every request is
    retried after a connection error, a timeout or a 5xx, until `deadline`."""

    def __init__(self, port, cookie, deadline, stats):
        self.port, self.cookie, self.deadline, self.stats = port, cookie, deadline, stats
        self.connection = None

    def _send(self, method, path, body=None, headers=None):
        while time.monotonic() < self.deadline:
            if self.connection is None:
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
            try:
                self.connection.request(method, path, body, {
                    "Cookie": self.cookie, **(headers or {})})
                response = self.connection.getresponse()
                data = response.read().decode()
                if response.status < 500:
                    return response.status, response.getheader("Location") or "", data
            except (OSError, http.client.HTTPException):
                self.connection.close()
                self.connection = None
            self.stats["retries"] += 1
            if method == "POST":  # sent, and perhaps written: the same token goes again
                self.stats["post_retries"] += 1
            time.sleep(0.2)
        return None, "", ""

    def form(self, path, name):
        """Load a form's page: its CSRF token and the one-time token in the field `name`."""
        status, _where, page = self._send("GET", path)
        if status != 200:
            return None, None
        token = re.search(rf'<input[^>]*name="{name}"[^>]*value="([0-9a-f-]{{36}})"', page)
        return CSRF.search(page)[1], token[1] if token else None

    def submit(self, path, fields, page, name="token", headers=None):
        """Fetch the form page's tokens, then post (the same token on every retry)."""
        csrf, token = self.form(page, name)
        if token is None:
            return None, None, "", ""
        body = urllib.parse.urlencode({"csrf_token": csrf, name: token, **fields})
        status, where, data = self._send("POST", path, body, {
            "Content-Type": "application/x-www-form-urlencoded", **(headers or {})})
        return token, status, where, data


def sign_in(port):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", "/auth/login")
    response = connection.getresponse()
    page = response.read().decode()
    cookie = response.getheader("Set-Cookie").split(";")[0]
    body = urllib.parse.urlencode({"csrf_token": CSRF.search(page)[1], "username": "boss",
                                   "password": PASSWORD})
    connection.request("POST", "/auth/login", body, {
        "Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
    response = connection.getresponse()
    response.read()
    assert response.status == 302, response.status
    cookie = response.getheader("Set-Cookie").split(";")[0]
    # The first form page puts the CSRF secret into the session: keep that session (later
    # Set-Cookies only carry flash messages, which the clients do not read).
    connection.request("GET", "/", headers={"Cookie": cookie})
    response = connection.getresponse()
    response.read()
    cookie = (response.getheader("Set-Cookie") or cookie).split(";")[0]
    connection.close()
    return cookie


def plan(world, n_requests, seed=11):
    """The requests, kinds in turn; most go to a few busy customers (locks contended)."""
    rng = random.Random(seed)
    targets = world["targets"]
    busy = targets[:max(8, len(targets) // 10)]
    cards = list(targets)
    rng.shuffle(cards)
    requests = []
    for i in range(n_requests):
        kind = KINDS[i % len(KINDS)]
        if kind == "checkin":
            if not cards:
                continue
            requests.append((kind, cards.pop()))
        else:
            requests.append((kind, rng.choice(busy if rng.random() < 0.8 else targets)))
    return requests


def send(client, world, kind, target):
    """One request of `kind`; returns (token, acknowledged, status)."""
    if kind == "payment":
        path = f"/orders/{target['order']}"
        token, status, where, _data = client.submit(
            f"{path}/payments", {"pay-amount": "1.00", "pay-method": "cash"}, path, "pay-token")
        return token, status == 302 and where.endswith(path), status
    if kind == "redemption":
        path = f"/points/customers/{target['customer']}"
        token, status, where, _data = client.submit(
            f"{path}/redeem", {f"product-{world['prize']}": "1", "warehouse_id": world["warehouse"]},
            path)
        return token, status == 302 and "/points/redemptions/" in where, status
    if kind == "pickup":
        path = f"/custody/customers/{target['customer']}"
        token, status, where, _data = client.submit(
            f"{path}/pickups", {f"line-{target['line']}": "1"}, path)
        return token, status == 302 and "/custody/pickups/" in where, status
    path = f"/checkin/{world['event']}"
    token, status, _where, data = client.submit(
        f"{path}/scan", {"code": target["card"]}, path, headers={"HX-Request": "true"})
    return token, status == 200 and 'data-testid="check-in-result"' in data and \
        "alert-success" in data, status


def run_load(port, world, n_requests, n_clients, seconds, server, kills):
    cookie = sign_in(port)
    queue = plan(world, n_requests)
    total = len(queue)
    lock = threading.Lock()
    results, stats = [], {"retries": 0, "post_retries": 0}
    deadline = time.monotonic() + seconds

    def worker():
        client = Client(port, cookie, deadline, stats)
        while time.monotonic() < deadline:
            with lock:
                if not queue:
                    return
                kind, target = queue.pop()
            try:
                token, acked, status = send(client, world, kind, target)
            except Exception as exc:  # a page not as expected: counted, never acked
                note(f"{kind}: {exc!r}")
                token, acked, status = None, False, None
            with lock:
                results.append({"kind": kind, "token": token, "acked": acked,
                                "status": status})

    threads = [threading.Thread(target=worker) for _ in range(n_clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    killed = []
    for k in range(kills):  # kill when (k+1)/(kills+1) of the requests are answered
        while time.monotonic() < deadline and len(results) < total * (k + 1) / (kills + 1) \
                and any(thread.is_alive() for thread in threads):
            time.sleep(0.02)
        processes = server.kill()
        note(f"killed {processes} gunicorn processes after {len(results)} answers")
        server.start()
        killed.append(processes)
    for thread in threads:
        thread.join(max(1.0, deadline - time.monotonic() + 30))
    return results, stats, killed, time.monotonic() - started


# --- The comparison ------------------------------------------------------------------------------

def compare(app, results):
    """lost: acked but not written; doubled: a token written more than once, or written rows
    that no request of the bench explains."""
    found = {}
    doubled = 0
    with app.app_context():
        for kind, table in TOKEN_TABLES.items():
            rows = db.session.execute(text(
                f"SELECT token, count(*) FROM {table} WHERE token IS NOT NULL "
                f"GROUP BY token")).all()
            doubled += sum(1 for _token, n in rows if n > 1)
            found[kind] = {token: n for token, n in rows}
        ours = {(r["kind"], r["token"]) for r in results if r["token"]}
        # Each bench request writes exactly one row of its kind: a payment of ¥1, one cup, one
        # box, one check-in. More rows or more money than requests found means a double.
        payments = db.session.execute(text(
            "SELECT count(*), coalesce(sum(amount), 0) FROM payments WHERE amount = 100")).one()
        written_payments = sum(1 for kind, token in ours
                               if kind == "payment" and token in found["payment"])
        if payments[0] != written_payments or payments[1] != 100 * written_payments:
            doubled += abs(payments[0] - written_payments)
        redeemed = db.session.scalar(select(func.coalesce(func.sum(pt.Redemption.points), 0)))
        written_redemptions = sum(1 for kind, token in ours
                                  if kind == "redemption" and token in found["redemption"])
        if redeemed != 10 * written_redemptions:
            doubled += abs(redeemed // 10 - written_redemptions)
        picked = db.session.scalar(select(func.coalesce(func.sum(-cu.CustodyEntry.quantity), 0))
                                   .where(cu.CustodyEntry.kind == "pickup"))
        written_pickups = sum(1 for kind, token in ours
                              if kind == "pickup" and token in found["pickup"])
        if picked != written_pickups:
            doubled += abs(picked - written_pickups)
    lost = sum(1 for r in results if r["acked"] and found[r["kind"]].get(r["token"], 0) == 0)
    unacked_written = sum(1 for r in results if not r["acked"] and r["token"]
                          and found[r["kind"]].get(r["token"], 0) > 0)
    return lost, doubled, unacked_written


def ledgers_clean(uri, folder):
    result = subprocess.run([str(ROOT / ".venv/bin/flask"), "--app", "app", "check-ledgers"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300, env={
                                **os.environ, "DATABASE_URL": uri, "SECRET_KEY": "bench-crash",
                                "INSTANCE_DIR": str(folder)})
    if result.returncode != 0:
        note(result.stdout[-2000:] + result.stderr[-2000:])
    return result.returncode == 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=150)
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--kills", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=300, help="bound on the load phase")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-crash-"))
    uri, drop = throwaway_database()
    server, ok = None, False
    try:
        app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "INSTANCE_DIR": str(folder),
                          "SECRET_KEY": "bench-crash", "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
        with app.app_context():
            upgrade()
            started = time.monotonic()
            world = seed(args.customers)
            note(f"seeded {args.customers} customers in {time.monotonic() - started:.1f} s")
            db.session.remove()
        server = Server(uri, folder, free_port(), args.workers)
        server.start()
        results, stats, killed, elapsed = run_load(server.port, world, args.requests,
                                                   args.clients, args.seconds, server, args.kills)
        server.stop()
        lost, doubled, unacked_written = compare(app, results)
        clean = ledgers_clean(uri, folder)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        ok = clean and lost == 0 and doubled == 0
        by_kind = {kind: sum(1 for r in results if r["kind"] == kind and r["acked"])
                   for kind in KINDS}
        print(json.dumps({
            "acked": sum(by_kind.values()), "lost": lost, "doubled": doubled,
            "ledgers_clean": clean, "requests": len(results),
            "refused": sum(1 for r in results if r["status"] is not None and not r["acked"]),
            "unanswered": sum(1 for r in results if r["status"] is None),
            "unacked_but_written": unacked_written, "acked_by_kind": by_kind,
            "retries": stats["retries"], "post_retries": stats["post_retries"], "kills": len(killed),
            "processes_killed": sum(killed), "workers": args.workers, "clients": args.clients,
            "seconds": round(elapsed, 1),
            "log": None if ok else str(folder / "gunicorn.log")}, ensure_ascii=False))
    finally:
        if server is not None:
            server.stop()
        drop()
    if ok:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
