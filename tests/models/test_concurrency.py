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
from tests.races import race

THREADS, ROUNDS = 4, 15


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
    errors = race(increment, range(THREADS), app=app)
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
    errors = race(work, range(2), app=app)
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
    errors = race(attempt, range(10))  # each request has its own app context
    assert errors == [] and statuses == [401] * 10
    actions = list(db.session.scalars(select(AuditEntry.summary).where(
        AuditEntry.target_id == user.id, AuditEntry.action.like("auth.%"))))
    assert len(actions) == 10
    assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "auth.locked")) == 1
    assert db.session.get(User, user.id).locked_until is not None


def _gate_is_free(app):
    import fcntl
    import os
    path = os.path.abspath(db.engine.url.database) + "-writers"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    finally:
        os.close(fd)


@pytest.mark.skipif(is_postgres(), reason="the write gate is SQLite's")
@pytest.mark.parametrize("end", ["commit", "rollback"])
def test_sqlite_write_gate_is_held_for_the_write_and_opens_after_it(app, committed_db, end):
    """Writers queue at the gate (an OS lock next to the database file) and leave it when the
    transaction ends, so the next writer goes in at once."""
    assert _gate_is_free(app)
    db.session.scalar(select(func.count(User.id)))  # a read takes no gate
    assert _gate_is_free(app)
    db.session.rollback()
    begin_write()
    assert not _gate_is_free(app)
    getattr(db.session, end)()
    assert _gate_is_free(app)


@pytest.mark.skipif(is_postgres(), reason="the write gate is SQLite's")
def test_sqlite_writers_wait_at_the_gate_instead_of_failing(app, committed_db):
    """A second writer waits while the first holds the gate, and goes in when it commits."""
    order = []
    first_in, release = threading.Event(), threading.Event()

    def writer(which):
        if which == "second":
            first_in.wait(10)
        begin_write()
        order.append(f"{which} in")
        if which == "first":
            first_in.set()
            release.wait(10)
        db.session.add(Setting(key=f"test.{which}", value=1))
        db.session.commit()
        order.append(f"{which} out")

    def open_the_gate():
        first_in.wait(10)
        threading.Event().wait(0.2)  # the second is at the gate by now
        release.set()
    errors = race(writer, ["first", "second"], app=app, timeout=20, meanwhile=open_the_gate)
    assert errors == []
    assert order == ["first in", "first out", "second in", "second out"]
    assert db.session.scalar(select(func.count(Setting.key)).where(
        Setting.key.in_(["test.first", "test.second"]))) == 2
