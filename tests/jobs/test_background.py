"""Background runs (issue 26 §1) on the real database, committed: a queued import is checked
and imported by the worker; its progress is visible from another session while the work's
transaction is open; a run that dies midway wrote nothing (all or nothing), is marked failed
once its heartbeat is old, and can be started again; two workers never take the same run."""
import io
from datetime import timedelta

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from extensions import db as _db
from jobs import background as worker
from models import background, customer_import as imports, customers as c
from models.base import utcnow
from tests.factories import make_user


def sheet(n):
    workbook = Workbook()
    workbook.active.append(["姓名", "手机号"])
    for i in range(n):
        workbook.active.append([f"顾客{i}", f"1380000{i:04d}"])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


@pytest.fixture
def batch(committed_db):
    marketer = make_user(["marketer"])
    batch = imports.upload("老客户.xlsx", sheet(12), actor=marketer)
    imports.set_mapping(batch, {"name": 0, "phone": 1})
    committed_db.session.commit()
    return batch


def customers(db):
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(c.Customer))


def queue(db, batch, kind):
    run = background.enqueue(kind, actor=_creator(batch), batch_id=batch.id,
                              rows_total=batch.row_count, params={"mapping": batch.mapping})
    db.session.commit()
    return run.id


def _creator(batch):
    from models.accounts import User
    return _db.session.get(User, batch.created_by_id)


def fetch(db, run_id):
    db.session.rollback()
    return db.session.get(background.BackgroundRun, run_id)


def test_a_queued_dry_run_then_import_are_worked_to_done(app, committed_db, batch):
    db = committed_db
    check = queue(db, batch, "customer_import_dry_run")
    assert fetch(db, check).state == "queued"
    assert worker.work(app) == 1
    run = fetch(db, check)
    assert run.state == "done" and run.rows_done == run.rows_total == 12
    assert run.result["counts"]["create"] == 12 and run.result["counts"]["invalid"] == 0
    assert customers(db) == 0  # a dry run writes nothing
    confirm = queue(db, batch, "customer_import")
    assert worker.work(app) == 1
    assert fetch(db, confirm).state == "done" and fetch(db, confirm).result["created"] == 12
    assert customers(db) == 12
    assert worker.work(app) == 0  # the queue is empty


def test_progress_is_visible_from_another_session_while_the_work_is_open(
        app, committed_db, batch, monkeypatch):
    db, seen = committed_db, []
    monkeypatch.setattr(background, "PROGRESS_SECONDS", 0)
    real = background.HANDLERS["customer_import"]

    def peeking(run, *, actor, progress):
        def spy(done, errors=0, *, stage=None):
            progress(done, errors, stage=stage)
            if stage == "write":  # the customers written in bulk, not yet committed
                with Session(_db.engine) as other:  # another connection, as a page would
                    status = background.status_of(other.get(background.BackgroundRun, run.id))
                    written = other.scalar(select(func.count()).select_from(c.Customer))
                seen.append((status.state, status.stage, status.rows_done, written))
        return real(run, actor=actor, progress=spy)
    monkeypatch.setitem(background.HANDLERS, "customer_import", peeking)
    run_id = queue(db, batch, "customer_import")
    worker.work(app)
    # Written, not yet done: the other session sees the progress but none of the customers,
    # which are committed with the run's "done".
    assert seen == [("running", "write", 12, 0)]
    assert fetch(db, run_id).state == "done" and customers(db) == 12


def test_a_run_that_dies_midway_wrote_nothing_and_can_be_started_again(
        app, committed_db, batch, monkeypatch):
    db = committed_db
    real = c.create_customers

    def dies_midway(rows, **kwargs):
        real(rows[:6], **kwargs)  # six customers made…
        raise SystemExit("worker killed")  # not an OperationError: the process goes down
    monkeypatch.setattr(c, "create_customers", dies_midway)
    run_id = queue(db, batch, "customer_import")
    with app.app_context():  # the worker claims it, then dies without a word
        background.claim_next()
        _db.session.commit()
        _db.session.remove()
    with pytest.raises(SystemExit):
        worker.run_one(app, run_id)
    with app.app_context():
        _db.session.remove()
    assert customers(db) == 0  # all or nothing: six customers were made, none committed
    run = fetch(db, run_id)
    assert run.state == "running" and not background.status_of(run).stale
    # Three minutes without a heartbeat: the next worker marks it failed.
    later = utcnow() + background.STALE_AFTER + timedelta(seconds=5)
    assert background.status_of(run, later).stale
    with app.app_context():
        assert background.fail_stale(later) == 1
        _db.session.commit()
        _db.session.remove()
    run = fetch(db, run_id)
    assert run.state == "failed" and "没有写入任何数据" in run.error
    assert fetch(db, run_id).result is None and customers(db) == 0
    monkeypatch.setattr(c, "create_customers", real)
    again = background.restart(run, actor=_creator(batch))
    db.session.commit()
    assert again.id != run_id and again.state == "queued"
    assert worker.work(app) == 1
    assert fetch(db, again.id).state == "done" and customers(db) == 12


def test_a_refused_import_is_failed_with_its_reason(app, committed_db):
    db = committed_db
    marketer = make_user(["marketer"])
    batch = imports.upload("坏.xlsx", _bad_sheet(), actor=marketer)
    imports.set_mapping(batch, {"name": 0, "phone": 1})
    db.session.commit()
    run_id = queue(db, batch, "customer_import")
    worker.work(app)
    run = fetch(db, run_id)
    assert run.state == "failed" and "有 1 行数据有误" in run.error and customers(db) == 0


def _bad_sheet():
    workbook = Workbook()
    workbook.active.append(["姓名", "手机号"])
    workbook.active.append(["张三", "13800000001"])
    workbook.active.append(["李四", "12345"])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def test_a_claimed_run_is_not_claimed_again(app, committed_db, batch):
    db = committed_db
    first, second = queue(db, batch, "customer_import_dry_run"), \
        queue(db, batch, "customer_import_dry_run")
    with app.app_context():
        assert background.claim_next() == first
        assert background.claim_next() == second
        assert background.claim_next() is None
        _db.session.commit()
        _db.session.remove()
    assert worker.work(app) == 0  # both are running elsewhere: nothing to claim
