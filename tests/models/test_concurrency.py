"""Write transactions under concurrency (SETUP.md): on SQLite a read-then-write transaction must
start with BEGIN IMMEDIATE, or a concurrent writer makes it fail; on PostgreSQL the row is locked
with SELECT ... FOR UPDATE. Proven with threads, committing for real."""
import threading

import pytest
from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from extensions import db
from models.accounts import User
from models.audit import AuditEntry
from models.base import begin_write
from models.settings import Setting
from tests.conftest import is_postgres
from tests.factories import make_user

THREADS, ROUNDS = 4, 15


def run_threads(app, work, n=THREADS, app_context=True):
    """Run work(i) in n threads started together; return the exceptions they raised. HTTP work
    runs without an app context, so that each request has its own (as in production)."""
    errors, barrier = [], threading.Barrier(n)

    def runner(i):
        try:
            barrier.wait()
            if not app_context:
                return work(i)
            with app.app_context():
                try:
                    work(i)
                finally:
                    db.session.remove()
        except Exception as exc:  # collected and asserted on below
            errors.append(exc)
    threads = [threading.Thread(target=runner, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


def test_begin_write_serialises_read_modify_write(app, committed_db):
    db.session.add(Setting(key="test.counter", value=0))
    db.session.commit()

    def increment(_):
        for _ in range(ROUNDS):
            begin_write()
            row = db.session.scalar(select(Setting).where(Setting.key == "test.counter")
                                    .with_for_update())
            row.value = row.value + 1
            db.session.commit()
    errors = run_threads(app, increment)
    assert errors == []
    db.session.expire_all()
    assert db.session.get(Setting, "test.counter").value == THREADS * ROUNDS


@pytest.mark.skipif(is_postgres(), reason="SQLite's deferred BEGIN is what is shown failing")
def test_without_begin_immediate_sqlite_refuses_the_second_writer(app, committed_db):
    """Why begin_write exists: two deferred transactions read, one writes and commits, the other
    can no longer write ("database is locked"), whatever the busy timeout."""
    db.session.add(Setting(key="test.counter", value=0))
    db.session.commit()
    read_done, first_committed = threading.Barrier(2), threading.Event()

    def work(i):
        row = db.session.scalar(select(Setting).where(Setting.key == "test.counter"))
        read_done.wait()
        if i == 1:
            first_committed.wait(10)
        row.value = row.value + 1
        db.session.commit()
        if i == 0:
            first_committed.set()
    errors = run_threads(app, work, n=2)
    assert len(errors) == 1 and isinstance(errors[0], OperationalError)
    assert "locked" in str(errors[0])


def test_concurrent_wrong_passwords_lock_exactly_once(app, committed_db):
    """Ten tablets send a wrong password at once: every request answers (no 500, no "database
    is locked"), the account locks after exactly five, and the audit shows each attempt."""
    user = make_user(username="target")
    db.session.commit()
    statuses = []

    def attempt(_):
        client = FlaskClient(app, app.response_class, use_cookies=True)
        with client.session_transaction() as session:
            session["csrf_token"] = "x" * 40
        token = URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token").dumps("x" * 40)
        response = client.post("/auth/login", data={"username": "target",
                                                    "password": "wrong-pass1",
                                                    "csrf_token": token})
        statuses.append(response.status_code)
    errors = run_threads(app, attempt, n=10, app_context=False)
    assert errors == [] and statuses == [401] * 10
    actions = list(db.session.scalars(select(AuditEntry.summary).where(
        AuditEntry.target_id == user.id, AuditEntry.action.like("auth.%"))))
    assert len(actions) == 10
    assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "auth.locked")) == 1
    assert db.session.get(User, user.id).locked_until is not None
