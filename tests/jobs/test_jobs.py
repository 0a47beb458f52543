"""run_job commits once on success, rolls back everything on failure; the CLI refuses unknown
jobs and bad times with a clear message and a non-zero exit."""
from datetime import time, timezone

import pytest
from sqlalchemy import select

import jobs
from models.settings import Setting


@pytest.fixture
def fake_jobs(monkeypatch):
    seen = []

    def writes_a_row(now):
        from extensions import db
        db.session.add(Setting(key="test.job", value=now.isoformat()))
        seen.append(now)
        return 1

    def fails_half_way(now):
        from extensions import db
        db.session.add(Setting(key="test.partial", value=1))
        db.session.flush()
        raise RuntimeError("boom")
    monkeypatch.setattr(jobs, "JOBS", {})
    jobs.register_job("writes", writes_a_row, time(2, 0))
    jobs.register_job("fails", fails_half_way, time(2, 0))
    return seen


def test_run_job_commits_once(app, committed_db, fake_jobs):
    assert jobs.run_job(app, "writes") == 1
    assert committed_db.session.get(Setting, "test.job") is not None


def test_failed_job_writes_nothing_and_re_raises(app, committed_db, fake_jobs):
    with pytest.raises(RuntimeError, match="boom"):
        jobs.run_job(app, "fails")
    assert committed_db.session.scalar(select(Setting).where(Setting.key == "test.partial")) \
        is None


def test_cli_runs_a_job_at_a_given_local_time(app, committed_db, fake_jobs, runner):
    result = runner.invoke(args=["run-job", "writes", "--now", "2026-11-25T00:30"])
    assert result.exit_code == 0, result.output
    assert fake_jobs[0].astimezone(timezone.utc).isoformat() == "2026-11-24T16:30:00+00:00"


def test_cli_refuses_unknown_jobs_and_bad_times(app, fake_jobs, runner):
    result = runner.invoke(args=["run-job", "nope"])
    assert result.exit_code != 0 and "没有名为 nope 的任务" in result.output
    result = runner.invoke(args=["run-job", "writes", "--now", "2026-13-45"])
    assert result.exit_code != 0 and "不是有效的时间" in result.output
