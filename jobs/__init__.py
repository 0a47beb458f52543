"""Scheduled jobs: the declared list, run_job(), catch-up, and the `jobs` / `scheduler` commands.

Each job is a plain function ``job(day, now) -> int`` (rows written) that calls operations in
models/; the job bodies are this package's modules: worklists (the tasks they write), customers
(grades and the public pool), points (expiry and birthday bonuses), stock (the products short of
what pooled custody promised), messages (the reminder the day before an event, and the messages
of the care, arrears and custody tasks). run_job() gives a job an app
context and one write transaction, commits once, and logs the run (job, date, started,
finished, rows, error) in job_runs, which admins see. The scheduler is its own process
(`flask --app app scheduler`), never inside web workers: once a day, at an hour set in the
settings (company time zone), it runs every job for every day since the last successful run —
so a missed day is caught up on the next start. Jobs are idempotent (unique keys
on what they write): a re-run, a second scheduler or a catch-up writes nothing twice.

The scheduler also works the queue of background runs (large imports and exports,
jobs/background.py) every BACKGROUND_SECONDS; `flask --app app jobs work` works it until empty.
"""
import logging
import time as clock
import traceback
from dataclasses import dataclass
from datetime import date, time, timedelta

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, text

from extensions import db
from jobs import background, customers, figures, messages, points, sending, stock, worklists
from models import tasks
from models.base import begin_write, end_reads, utcnow
from models.clock import at_local, company_zone, local_day
from models.settings import get_setting

logger = logging.getLogger(__name__)

#: How often the scheduler looks for queued background runs (seconds).
BACKGROUND_SECONDS = 3
#: The longest stretch of missed days a catch-up fills in.
MAX_CATCH_UP_DAYS = 31


@dataclass(frozen=True)
class Job:
    name: str
    func: object
    description: object = ""


#: name → Job, in the order the nightly run takes them.
JOBS = {}


def register_job(name, func, description=""):
    """Declare a nightly job."""
    JOBS[name] = Job(name, func, description)


def moment_of(day):
    """The `now` a run for `day` sees: the present for today, else the end of that day."""
    today = local_day(utcnow())
    if day >= today:
        return utcnow()
    return at_local(day, time(23, 59))


def already_ran(name, day):
    """The successful run of a job for a day, if there was one."""
    return db.session.scalar(select(tasks.JobRun).where(
        tasks.JobRun.job == name, tasks.JobRun.run_date == day, tasks.JobRun.status == "ok")
        .order_by(tasks.JobRun.id).limit(1))


def run_job(app, name, day=None, *, trigger="cli", force=False):
    """Run one job for a day in its own app context and transaction; log the run; return rows
    written. A failure writes nothing but its log line, and is re-raised.

    A job that already ran successfully for the day is not run again unless forced (a forced
    run is safe too: every job is idempotent, it only costs the time of the scan)."""
    job = JOBS[name]
    with app.app_context():
        if day is None:
            day = local_day(utcnow())
            end_reads()  # the time zone was read in a transaction: the job's begins as a write
        started, clock_started = utcnow(), clock.monotonic()
        try:
            begin_write()
            job_work_mem()
            if not force and already_ran(name, day) is not None:
                db.session.rollback()
                logger.info("Job %s for %s already ran; skipped", name, day.isoformat())
                return 0
            written = job.func(day, moment_of(day))
            db.session.add(tasks.JobRun(job=name, run_date=day, trigger=trigger,
                                        started_at=started, finished_at=utcnow(),
                                        rows=written, status="ok"))
            db.session.commit()
        except Exception as error:
            db.session.rollback()
            logger.exception("Job %s failed for %s", name, day.isoformat())
            begin_write()
            db.session.add(tasks.JobRun(
                job=name, run_date=day, trigger=trigger, started_at=started,
                finished_at=utcnow(), rows=0, status="failed",
                error="".join(traceback.format_exception_only(error)).strip()[:2000]))
            db.session.commit()
            raise
        finally:
            db.session.remove()
        logger.info("Job %s for %s wrote %s rows in %.2fs", name, day.isoformat(), written,
                    clock.monotonic() - clock_started)
        return written


def job_work_mem():
    """On PostgreSQL, the job's transaction sorts and hashes in JOB_WORK_MEM (config.py):
    `set_config(…, true)` is SET LOCAL, gone at the transaction's end, so a pooled connection
    (or PgBouncer's next client) never keeps it."""
    value = current_app.config.get("JOB_WORK_MEM")
    if value and db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT set_config('work_mem', :value, true)"), {"value": value})


def days_to_run(name, today):
    """The days a job has not yet run successfully, up to today (today alone the first time)."""
    last = db.session.scalar(select(func.max(tasks.JobRun.run_date)).where(
        tasks.JobRun.job == name, tasks.JobRun.status == "ok"))
    if last is None:
        return [today]
    first = max(last + timedelta(days=1), today - timedelta(days=MAX_CATCH_UP_DAYS - 1))
    return [first + timedelta(days=n) for n in range((today - first).days + 1)]


def catch_up(app, today=None, *, trigger="schedule"):
    """Run every job for every day it missed, oldest day first. Returns {job: rows}. A job that
    fails is logged and the others still run."""
    with app.app_context():
        today = today or local_day(utcnow())
        plan = {name: days_to_run(name, today) for name in JOBS}
        db.session.remove()
    written = {}
    for day in sorted({day for days in plan.values() for day in days}):
        for name, days in plan.items():
            if day in days:
                try:
                    written[name] = written.get(name, 0) + run_job(
                        app, name, day, trigger=trigger if day == today else "catch-up")
                except Exception:  # logged in job_runs; the other jobs still run
                    written.setdefault(name, 0)
    return written


def last_runs(limit=200):
    return db.session.scalars(select(tasks.JobRun).order_by(tasks.JobRun.started_at.desc(),
                                                            tasks.JobRun.id.desc())
                              .limit(limit)).all()


# --- Commands ------------------------------------------------------------------------------------

jobs_cli = AppGroup("jobs", help="Run the nightly jobs by hand.")


def _parse_day(value):
    if not value:
        return local_day(utcnow())
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"不是有效的日期 / not a valid date: {value} "
                                 "(例如 / e.g. 2026-11-25)", param_hint="--date") from None


@jobs_cli.command("run")
@click.argument("name")
@click.option("--date", "day", help="The day to run for (YYYY-MM-DD, company time zone; "
                                    "default today).")
@click.option("--force", is_flag=True, help="Run again even if it already ran for that day.")
@with_appcontext
def run_command(name, day, force):
    """Run one job (or `nightly`: all of them in order) for a day."""
    if name != "nightly" and name not in JOBS:
        known = ", ".join(["nightly", *JOBS])
        raise click.ClickException(f"没有名为 {name} 的任务 / no job named {name}. "
                                   f"可用 / known: {known}")
    day = _parse_day(day)
    app = current_app._get_current_object()
    db.session.remove()
    for job in JOBS if name == "nightly" else [name]:
        if not force:
            with app.app_context():
                done = already_ran(job, day)
                db.session.remove()
            if done is not None:
                click.echo(f"{job} {day.isoformat()}: 已运行过，未重复运行 / already ran "
                           f"(--force 重新运行 / to run again)")
                continue
        try:
            written = run_job(app, job, day, force=force)
        except Exception as error:
            raise click.ClickException(f"{job} {day.isoformat()} 失败 / failed: {error}") \
                from None
        click.echo(f"{job} {day.isoformat()}: {written}")


@jobs_cli.command("list")
def list_command():
    """The jobs, in the order the nightly run takes them."""
    for job in JOBS.values():
        click.echo(f"{job.name:16} {job.description}")


@jobs_cli.command("rfm")
@with_appcontext
def rfm_command():
    """Recompute every buying customer's RFM scores now (also after tonight's run)."""
    app = current_app._get_current_object()
    db.session.remove()
    written = run_job(app, "rfm", force=True)
    click.echo(f"rfm: {written} 位顾客已评分 / customers scored")


@jobs_cli.command("catch-up")
@with_appcontext
def catch_up_command():
    """Run every job for every day it missed, up to today."""
    app = current_app._get_current_object()
    db.session.remove()
    for name, written in catch_up(app, trigger="cli").items():
        click.echo(f"{name}: {written}")


@jobs_cli.command("work")
@with_appcontext
def work_command():
    """Work the queue of background runs (large imports and exports) until it is empty."""
    app = current_app._get_current_object()
    db.session.remove()
    worked = background.work(app)
    click.echo(f"后台任务 / background runs: {worked}")


#: A sender run sends batches of SEND_BATCH messages, each committed, while a batch sends some
#: and for at most SEND_SECONDS (the scheduler starts the next run a minute after the last).
SEND_BATCH = 200
SEND_SECONDS = 50


def send_messages(app, *, problems=None):
    """Send the queued SMS whose time has come, batch by batch, then read back the delivery of
    those sent; returns how many were sent. When the provider cannot send (NotConfigured) the
    queue is kept, the reason logged and added to `problems` (a list) for the caller to show."""
    sent, started = 0, clock.monotonic()
    with app.app_context():
        try:
            begin_write()
            provider = sending.provider_from_settings()
            while True:
                done = sending.send_due(provider=provider, limit=SEND_BATCH)
                db.session.commit()
                sent += done
                if not done or clock.monotonic() - started > SEND_SECONDS:
                    break
                begin_write()
            begin_write()
            known = sending.check_deliveries(provider=provider)
            db.session.commit()
            if sent or known:
                logger.info("SMS: %s sent, %s delivery reports read", sent, known)
        except sending.NotConfigured as error:
            db.session.rollback()
            logger.warning("SMS not sent, the queue is kept: %s", error)
            if problems is not None:
                problems.append(str(error))
        except Exception:
            db.session.rollback()
            logger.exception("Sending messages failed")
            raise
        finally:
            db.session.remove()
    return sent


@jobs_cli.command("send-messages")
@with_appcontext
def send_messages_command():
    """Send the queued SMS whose time has come (the scheduler does it every minute)."""
    app = current_app._get_current_object()
    db.session.remove()
    problems = []
    sent = send_messages(app, problems=problems)
    if problems:
        raise click.ClickException(problems[0])
    click.echo(f"已发送短信 / messages sent: {sent}")


@click.command("scheduler")
@with_appcontext
def scheduler_command():
    """Run the scheduler process (blocking): catch up now, then every day at the set hour."""
    # Only the scheduler process loads APScheduler: the web workers and the other commands,
    # which import this module for its CLI group, never start a scheduler.
    from apscheduler.schedulers.blocking import BlockingScheduler

    app = current_app._get_current_object()
    zone = company_zone()
    hour = get_setting("tasks.nightly_hour")
    db.session.remove()
    scheduler = BlockingScheduler(timezone=zone, job_defaults={
        "max_instances": 1, "coalesce": True, "misfire_grace_time": 6 * 3600})
    scheduler.add_job(catch_up, "cron", args=(app,), id="nightly", hour=hour, minute=0)
    # Large imports and exports queued by the pages (models/background.py).
    scheduler.add_job(background.work, "interval", args=(app,), id="background",
                      seconds=BACKGROUND_SECONDS, misfire_grace_time=BACKGROUND_SECONDS)
    # The SMS sender (jobs/sending.py): the queued messages whose time has come.
    scheduler.add_job(send_messages, "interval", args=(app,), id="messages", seconds=60,
                      misfire_grace_time=60)
    click.echo(f"调度器已启动 / scheduler started: {len(JOBS)} jobs daily at {hour:02d}:00 "
               f"({zone}); catching up first")
    catch_up(app)
    scheduler.start()


register_job("grading", customers.grading, _l("Customer grades A/B/C/D"))
register_job("rfm", customers.rfm, _l("RFM scores of buying customers"))
register_job("pool-reclaim", customers.pool_reclaim,
             _l("Public pool: warnings, then idle customers go to the pool"))
register_job("callbacks", worklists.callbacks, _l("Callbacks after purchases"))
register_job("event-follow-ups", worklists.event_follow_ups,
             _l("Follow-ups of attendees who did not buy and invitees who did not come"))
# care, arrears and custody also queue the messages of their tasks when the settings say so.
register_job(messages.JOB_CARE, messages.care, _l("Birthday and anniversary care"))
register_job(messages.JOB_ARREARS, messages.arrears, _l("Arrears collection"))
register_job(messages.JOB_CUSTODY, messages.custody_and_pickup,
             _l("Custody pickup reminders and held goods near expiry"))
register_job("repurchase", worklists.repurchase, _l("Repurchase reminders"))
register_job("follow-ups", worklists.planned_follow_ups,
             _l("Planned follow-ups from contact logs"))
register_job("aftersales", worklists.aftersales_reminders,
             _l("After-sales tickets due or overdue"))
register_job("stock-shortfalls", stock.shortfalls,
             _l("Products whose free stock is below what custody promised"))
register_job("points-expiry", points.points_expiry, _l("Points expiry"))
register_job("birthday-points", points.birthday_points, _l("Birthday-month bonus points"))
register_job(messages.JOB_REMINDERS, messages.event_reminders,
             _l("Messages: the reminder the day before an event"))
register_job("day-figures", figures.day_figures,
             _l("Home page figures of the days just closed"))
