"""run_job commits once and logs the run; a failure writes nothing but its log line; catch-up
fills in missed days once; two runs at once write every task once; the CLI refuses unknown jobs
and bad dates with a clear message and a non-zero exit."""
from datetime import date, datetime, time, timedelta, timezone

import pytest
from sqlalchemy import func, select

import jobs
from models import tasks as t
from models.settings import Setting
from tests.factories import (company_today, make_customer, make_order, make_stocked_product,
                             make_user, make_warehouse)
from tests.races import race


@pytest.fixture
def fake_jobs(monkeypatch):
    seen = []

    def writes_a_row(day, now):
        from extensions import db
        db.session.add(Setting(key=f"test.job.{day.isoformat()}", value=now.isoformat()))
        seen.append(day)
        return 1

    def fails_half_way(day, now):
        from extensions import db
        db.session.add(Setting(key="test.partial", value=1))
        db.session.flush()
        raise RuntimeError("boom")
    monkeypatch.setattr(jobs, "JOBS", {})
    jobs.register_job("writes", writes_a_row)
    jobs.register_job("fails", fails_half_way)
    return seen


def runs(db, name):
    return db.session.scalars(select(t.JobRun).where(t.JobRun.job == name)
                              .order_by(t.JobRun.run_date)).all()


def test_run_job_commits_once_and_logs_the_run(app, committed_db, fake_jobs):
    assert jobs.run_job(app, "writes", date(2026, 11, 25)) == 1
    assert committed_db.session.get(Setting, "test.job.2026-11-25") is not None
    [run] = runs(committed_db, "writes")
    assert (run.run_date, run.rows, run.status, run.error) == (date(2026, 11, 25), 1, "ok", "")


def test_failed_job_writes_nothing_but_its_log_and_re_raises(app, committed_db, fake_jobs):
    with pytest.raises(RuntimeError, match="boom"):
        jobs.run_job(app, "fails", date(2026, 11, 25))
    assert committed_db.session.scalar(select(Setting).where(Setting.key == "test.partial")) \
        is None
    [run] = runs(committed_db, "fails")
    assert run.status == "failed" and "boom" in run.error


def test_a_job_sorts_in_its_own_work_mem_on_postgresql(app, committed_db, monkeypatch):
    """A job's transaction has JOB_WORK_MEM (SET LOCAL); the connection goes back to the pool
    with the server's own setting."""
    from sqlalchemy import text

    from extensions import db
    if db.engine.dialect.name != "postgresql":
        pytest.skip("work_mem is PostgreSQL's")
    seen = []
    monkeypatch.setattr(jobs, "JOBS", {})
    jobs.register_job("sorts", lambda day, now: seen.append(
        db.session.scalar(text("SHOW work_mem"))) or 0)
    default = db.session.scalar(text("SHOW work_mem"))
    db.session.rollback()
    jobs.run_job(app, "sorts", date(2026, 11, 25))
    monkeypatch.setitem(app.config, "JOB_WORK_MEM", "")
    jobs.run_job(app, "sorts", date(2026, 11, 26))
    assert seen == ["64MB", default] and default != "64MB"
    with app.app_context():
        assert db.session.scalar(text("SHOW work_mem")) == default


def test_catch_up_runs_each_missed_day_once(app, committed_db, fake_jobs):
    jobs.run_job(app, "writes", date(2026, 11, 21))
    result = jobs.catch_up(app, date(2026, 11, 25))
    assert fake_jobs == [date(2026, 11, 21), date(2026, 11, 22), date(2026, 11, 23),
                         date(2026, 11, 24), date(2026, 11, 25)]
    assert result["writes"] == 4
    assert [r.trigger for r in runs(committed_db, "writes")] == \
        ["cli", "catch-up", "catch-up", "catch-up", "schedule"]
    # The failing job is logged each day and does not stop the others.
    assert [r.status for r in runs(committed_db, "fails")] == ["failed"]
    jobs.catch_up(app, date(2026, 11, 25))
    assert len(fake_jobs) == 5  # nothing left to catch up


def test_cli_runs_a_job_for_a_date(app, committed_db, fake_jobs, runner):
    result = runner.invoke(args=["jobs", "run", "writes", "--date", "2026-11-25"])
    assert result.exit_code == 0, result.output
    assert "writes 2026-11-25: 1" in result.output and fake_jobs == [date(2026, 11, 25)]


def test_cli_refuses_unknown_jobs_bad_dates_and_reports_failures(app, committed_db, fake_jobs,
                                                                 runner):
    result = runner.invoke(args=["jobs", "run", "nope"])
    assert result.exit_code != 0 and "没有名为 nope 的任务" in result.output
    result = runner.invoke(args=["jobs", "run", "writes", "--date", "2026-02-30"])
    assert result.exit_code != 0 and "不是有效的日期" in result.output
    result = runner.invoke(args=["jobs", "run", "fails", "--date", "2026-11-25"])
    assert result.exit_code != 0 and "失败" in result.output
    assert committed_db.session.scalar(select(func.count()).select_from(Setting).where(
        Setting.key.like("test.%"))) == 0


def test_two_nightly_runs_at_once_write_every_task_once(app, committed_db):
    db = committed_db
    warehouse = make_warehouse("总仓")
    marketer = make_user(["marketer"])
    product = make_stocked_product(warehouse, 500)
    moment = datetime.combine(date(2026, 11, 22), time(10), tzinfo=timezone.utc)
    for n in range(20):
        customer = make_customer(marketer, name=f"顾客{n}", birthday_kind="solar",
                                 birthday=date(1950, 11, 30))
        make_order(customer, warehouse=warehouse, actor=marketer, now=moment,
                   due_date=date(2026, 11, 30), lines=[{"product": product, "quantity": 1}])
    db.session.commit()
    day = date(2026, 11, 25)
    results = []

    def run(_n):  # run_job pushes its own app context, as the scheduler's process does
        results.append(sum(jobs.run_job(app, name, day) for name in
                           ("callbacks", "care", "arrears")))
    assert race(run, range(2)) == []
    tasks = db.session.scalar(select(func.count()).select_from(t.Task))
    # Per customer: the day-3 and day-7 callbacks, the birthday (3 days ahead) and the arrears
    # reminder (3 days before): written once whichever run got there first.
    assert tasks == 80 and sum(results) == 80
    assert jobs.run_job(app, "callbacks", day + timedelta(days=1)) == 0


def test_two_pool_reclaims_at_once_move_each_customer_once(app, committed_db):
    from models.customers import OwnershipChange
    from models.base import utcnow
    db = committed_db
    marketer = make_user(["marketer"])
    for n in range(10):
        customer = make_customer(marketer, name=f"久未跟进{n}")
        customer.owned_since = utcnow() - timedelta(days=45)
    db.session.commit()
    day = company_today()
    assert race(lambda _n: jobs.run_job(app, "pool-reclaim", day), range(2)) == []
    assert db.session.scalar(select(func.count()).select_from(OwnershipChange).where(
        OwnershipChange.kind == "reclaim")) == 10
    assert sum(r.rows for r in runs(db, "pool-reclaim")) == 10


def test_a_day_already_run_is_not_run_again_unless_forced(app, committed_db, fake_jobs, runner):
    day = date(2026, 11, 25)
    assert jobs.run_job(app, "writes", day) == 1
    assert jobs.run_job(app, "writes", day) == 0 and fake_jobs == [day]
    result = runner.invoke(args=["jobs", "run", "writes", "--date", "2026-11-25"])
    assert result.exit_code == 0 and "已运行过" in result.output and fake_jobs == [day]
    committed_db.session.query(Setting).filter(Setting.key.like("test.job.%")).delete()
    committed_db.session.commit()
    result = runner.invoke(args=["jobs", "run", "writes", "--date", "2026-11-25", "--force"])
    assert result.exit_code == 0 and "writes 2026-11-25: 1" in result.output
    assert fake_jobs == [day, day]
