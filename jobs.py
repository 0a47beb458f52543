"""Scheduled jobs: the declared table, run_job(), and the `scheduler` / `run-job` CLI commands.

Each job is a plain function ``job(now) -> int`` (rows written) that calls operations in models/.
run_job() gives it an app context and a write transaction, commits once, logs, and re-raises on
failure. The scheduler is its own process (`flask --app app scheduler`), never inside web
workers; jobs must be idempotent (unique keys on what they write) so a re-run writes nothing
twice. The areas that need jobs (callbacks, birthdays, pool reclaim) add them to JOBS.
"""
import logging
import time as clock
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

import click
from flask import current_app
from flask.cli import with_appcontext

from extensions import db
from models.base import begin_write, utcnow

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    name: str
    func: object
    #: Local time of day (company time zone) at which the scheduler runs it.
    at: time
    description: str = ""


#: name → Job. Filled by the areas that schedule work.
JOBS = {}


def register_job(name, func, at, description=""):
    """Declare a daily job."""
    JOBS[name] = Job(name, func, at, description)


def run_job(app, name, now=None):
    """Run one job in its own app context and transaction; return rows written."""
    job = JOBS[name]
    now = now or utcnow()
    with app.app_context():
        started = clock.monotonic()
        try:
            begin_write()
            written = job.func(now)
            db.session.commit()
        except Exception:
            db.session.rollback()
            logger.exception("Job %s failed (now=%s)", name, now.isoformat())
            raise
        finally:
            db.session.remove()
        logger.info("Job %s wrote %s rows in %.2fs", name, written, clock.monotonic() - started)
        return written


def _parse_now(value):
    if not value:
        return utcnow()
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"不是有效的时间 / not a valid time: {value} "
                                 "(例如 / e.g. 2026-11-25T02:00+08:00)") from None
    if moment.tzinfo is None:
        from models.settings import get_setting
        moment = moment.replace(tzinfo=ZoneInfo(get_setting("general.timezone")))
    return moment


@click.command("run-job")
@click.argument("name")
@click.option("--now", help="Run as if at this time (ISO 8601; company time zone if naive).")
@with_appcontext
def run_job_command(name, now):
    """Run one scheduled job now."""
    if name not in JOBS:
        known = ", ".join(sorted(JOBS)) or "（无 / none）"
        raise click.ClickException(f"没有名为 {name} 的任务 / no job named {name}. 可用 / known: {known}")
    written = run_job(current_app._get_current_object(), name, _parse_now(now))
    click.echo(f"{name}: {written}")


@click.command("scheduler")
@with_appcontext
def scheduler_command():
    """Run the scheduler process (blocking): each job daily at its time, company time zone."""
    from apscheduler.schedulers.blocking import BlockingScheduler
    from models.settings import get_setting

    app = current_app._get_current_object()
    zone = ZoneInfo(get_setting("general.timezone"))
    scheduler = BlockingScheduler(timezone=zone, job_defaults={
        "max_instances": 1, "coalesce": True, "misfire_grace_time": 3600})
    for job in JOBS.values():
        scheduler.add_job(run_job, "cron", args=(app, job.name), id=job.name,
                          hour=job.at.hour, minute=job.at.minute)
    click.echo(f"调度器已启动 / scheduler started: {len(JOBS)} jobs, time zone {zone}")
    scheduler.start()


def _pool_reclaim(now):
    from models.customers import reclaim_stale_customers
    return reclaim_stale_customers(now)


register_job("pool-reclaim", _pool_reclaim, time(2, 30),
             "公海回收：长期未跟进的顾客回到公海 / idle customers go to the public pool")
