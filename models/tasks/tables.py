"""The tasks table and how tasks are written: every follow-up a marketer owes a customer
(回访、关怀、催款), written by the nightly jobs (jobs/worklists.py) and by the operations that
owe one (a large order's confirmation call, an owed referral gift).

One task model for every kind. A job for day D writes the tasks due from D to D + the planning
window (a setting), each under a unique key (kind, customer, source, due date), with
INSERT … ON CONFLICT DO NOTHING: a re-run, a second scheduler process or a catch-up writes
nothing twice. A task belongs to the customer's owner when written (and follows the customer when
ownership changes); its status is open, done or skipped — "overdue" is an open task whose due
date has passed, computed when shown.
"""
from datetime import date, datetime

from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import (CheckConstraint, Date, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint, select, text, update)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, lazyload, mapped_column, relationship

from extensions import db
from models.audit import register_targets
from models.base import UTCDateTime, among, utcnow
from models.clock import local_day
from models.customers import OWNER_CHANGE_HANDLERS, Customer
from models.timeline import TimelineItem, register_provider

KINDS = {
    "callback": _l("Callback after purchase"),
    "no_buy": _l("Came but did not buy"),
    "no_show": _l("Invited but did not come"),
    "birthday": _l("Birthday care"),
    "anniversary": _l("Anniversary care"),
    "arrears": _l("Collect arrears"),
    "pickup": _l("Remind to collect goods"),
    "custody_expiry": _l("Held goods near expiry"),
    "repurchase": _l("Repurchase reminder"),
    "follow_up": _l("Planned follow-up"),
    "pool_warning": _l("Going to the public pool"),
    "confirm_call": _l("Large-order confirmation call"),
    "referral_gift": _l("Give an owed referral gift"),
    "aftersales": _l("After-sales ticket due"),
    "escalation": _l("Unreachable after several calls"),
}
#: Kinds that belong to a person rather than to the customer's owner: they stay with their
#: assignee when the customer changes hands (a large order's confirmation call stays with its
#: confirmer; an after-sales reminder with the ticket's assignee, models/aftersales.py).
PERSONAL_KINDS = ("confirm_call", "aftersales", "escalation")
#: Kinds that outlive the customer's ownership: not closed when the customer goes to the pool
#: (an after-sales ticket stays open until it is resolved).
OWNERLESS_KINDS = ("aftersales",)
STATUSES = {"open": _l("Open"), "done": _l("Done"), "skipped": _l("Skipped"),
            "overdue": _l("Overdue")}
#: How a follow-up went: reached (已接通, closes it), no answer (未接通: closes this attempt and
#: writes the next one for the next day, or after `tasks.max_attempts` an escalation to the
#: department head), refused (拒绝: closed, and the card offers to set 勿扰).
OUTCOMES = {"reached": _l("Reached"), "no_answer": _l("No answer"),
            "refused": _l("Refused to talk")}
#: Phrases a marketer taps to finish a reached call without typing ("no answer" is an outcome
#: button of its own).
QUICK_NOTES = (_l("Reached, all is well"), _l("Reached, will come to the next event"),
               _l("Reached, asked for a visit"))
MAX_OVERDUE_SHOWN = 200
CHUNK = 5000


class Task(db.Model):
    __tablename__ = "tasks"
    __table_args__ = (
        UniqueConstraint("kind", "customer_id", "source_key", "due_date", name="uq_tasks_key"),
        CheckConstraint("status IN ('open', 'done', 'skipped')", name="known_status"),
        CheckConstraint("outcome IS NULL OR outcome IN ('reached', 'no_answer', 'refused')",
                        name="known_outcome"),
        # A marketer's "Today" (worklist.today_list): the open tasks of one assignee up to a
        # week ahead, ranked and counted by section and kind, and the first of each read by id
        # — from the index alone (with `kind` and the id in it: 3,000 open tasks were 3,000
        # table rows read; SQLite's indexes hold the row id anyway).
        Index("ix_tasks_assignee_status_due_kind", "assignee_id", "status", "due_date", "kind",
              postgresql_include=["id"]),
        Index("ix_tasks_department_status_due", "department_id", "status", "due_date"),
        Index("ix_tasks_customer_status", "customer_id", "status"),
        # The open tasks only, by due date: the overdue count per marketer on the manager's
        # home (reports.home.overdue_tasks: status 'open', due before today, grouped by
        # assignee), read from the index alone instead of every task ever written.
        Index("ix_tasks_open_due_assignee", "due_date", "assignee_id",
              sqlite_where=text("status = 'open'"), postgresql_where=text("status = 'open'")),
        # The tasks due in a period with what the performance figures judge them by (done on
        # time and reached, or overdue: reports.performance.figures' callbacks), per marketer,
        # read from the index alone: a month of the company was a lossy bitmap scan of 600,000
        # task rows (four statements, current and previous month: 1.6 → 0.2 s).
        Index("ix_tasks_due_assignee_outcome", "due_date", "assignee_id", "status", "done_on",
              "outcome"),
    )
    #: Seen by the assignee, their department head and managers.
    __scope__ = {"owner": "assignee_id", "department": "department_id"}

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    assignee_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    due_date: Mapped[date] = mapped_column(Date)
    #: What the task came from: "order:12", "event:3", "birthday:2026-12-01", "" for none.
    source_key: Mapped[str] = mapped_column(String(40), default="")
    title: Mapped[str] = mapped_column(String(120))
    detail: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(10), default="open")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The local day it was done or skipped (on time: done_on <= due_date).
    done_on: Mapped[date | None] = mapped_column(Date)
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    contact_log_id: Mapped[int | None] = mapped_column(ForeignKey("contact_logs.id"))
    skip_reason: Mapped[str] = mapped_column(String(200), default="")
    #: How it went (OUTCOMES) when done; NULL while open, when skipped, and for tasks done
    #: before outcomes were recorded (counted as reached).
    outcome: Mapped[str | None] = mapped_column(String(10))
    #: Which attempt at one follow-up this is: a 未接通 writes attempt n + 1 for the next day
    #: under source_key "<original>~<n + 1>" (the unique key is never moved).
    attempt: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    #: Why a task due on a later day was done ahead of it (required then).
    early_reason: Mapped[str] = mapped_column(String(200), default="", server_default="")

    customer = relationship("Customer", lazy="joined")
    assignee = relationship("User", foreign_keys=[assignee_id], lazy="select")
    done_by = relationship("User", foreign_keys=[done_by_id], lazy="select")

    @property
    def kind_label(self):
        return KINDS.get(self.kind, self.kind)

    def state(self, today):
        if self.status == "open" and self.due_date < today:
            return "overdue"
        return self.status

    @property
    def outcome_label(self):
        return OUTCOMES.get(self.outcome, "") if self.outcome else ""

    @property
    def base_key(self):
        """The source key without a repeated attempt's "~n"."""
        base, sep, n = self.source_key.rpartition("~")
        return base if sep and n.isdigit() else self.source_key

    @property
    def source(self):
        """(type, id) of the record behind the task, e.g. ("order", 12), or (None, None)."""
        kind, _sep, ident = self.base_key.partition(":")
        return (kind, int(ident)) if ident.isdigit() else (kind or None, None)


class JobRun(db.Model):
    """One run of a scheduled job for a day: when, how many rows, what went wrong."""
    __tablename__ = "job_runs"
    __table_args__ = (Index("ix_job_runs_job_date", "job", "run_date"),
                      CheckConstraint("status IN ('ok', 'failed')", name="known_status"))

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(30))
    run_date: Mapped[date] = mapped_column(Date)
    #: "schedule", "catch-up" or "cli".
    trigger: Mapped[str] = mapped_column(String(10), default="cli")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)
    rows: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(10))
    error: Mapped[str] = mapped_column(Text, default="")

    @property
    def seconds(self):
        return round((self.finished_at - self.started_at).total_seconds(), 2)


# --- Writing tasks -------------------------------------------------------------------------------

def write_tasks(rows, *, now=None, once_per_source=False):
    """Insert task rows (dicts) whose key is new; return how many were written. Safe under two
    concurrent runs: the unique key decides, ON CONFLICT DO NOTHING keeps the first.

    `once_per_source`: kinds whose due date is "the day it was first seen" (a warning) are
    written only if the customer has no task of that kind and source yet."""
    now = now or utcnow()
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    written = 0
    seen = set()
    unique = []
    for row in rows:
        key = (row["kind"], row["customer_id"], row.get("source_key", ""), row["due_date"])
        if key not in seen:
            seen.add(key)
            unique.append({"source_key": "", "detail": "", "status": "open", "created_at": now,
                           **row})
    if once_per_source and unique:
        known = set()
        for kind in {row["kind"] for row in unique}:
            ids = sorted({row["customer_id"] for row in unique if row["kind"] == kind})
            for start in range(0, len(ids), 5000):
                known.update(db.session.execute(
                    select(Task.kind, Task.customer_id, Task.source_key).where(
                        Task.kind == kind, among(Task.customer_id, ids[start:start + 5000]))))
        unique = [row for row in unique
                  if (row["kind"], row["customer_id"], row["source_key"]) not in known]
    elif unique:
        # The keys already written are read first, a chunk of customers at a time through the
        # key's own index: a re-run (everything written) then inserts nothing — offering
        # 215,000 pickup reminders again to ON CONFLICT took 50 s at two million customers.
        known = set()
        for kind in {row["kind"] for row in unique}:
            of_kind = [row for row in unique if row["kind"] == kind]
            ids = sorted({row["customer_id"] for row in of_kind})
            first = min(row["due_date"] for row in of_kind)
            last = max(row["due_date"] for row in of_kind)
            for start in range(0, len(ids), 5000):
                known.update(db.session.execute(
                    select(Task.kind, Task.customer_id, Task.source_key, Task.due_date).where(
                        Task.kind == kind, among(Task.customer_id, ids[start:start + 5000]),
                        Task.due_date >= first, Task.due_date <= last)))
        unique = [row for row in unique if (row["kind"], row["customer_id"],
                                            row["source_key"], row["due_date"]) not in known]
    # One statement, compiled once, sent as batches of many rows ("insertmanyvalues"); the ids
    # it returns are the rows written (rowcount is -1 on psycopg).
    statement = insert(Task.__table__).on_conflict_do_nothing(
        index_elements=["kind", "customer_id", "source_key", "due_date"]).returning(
        Task.__table__.c.id)
    connection = db.session.connection()
    for start in range(0, len(unique), CHUNK):
        written += len(connection.execute(statement, unique[start:start + CHUNK]).all())
    return written


def _owned():
    """Columns of owned, active customers to write tasks for."""
    return select(Customer.id, Customer.owner_id, Customer.department_id).where(
        Customer.status == "active", Customer.owner_id.is_not(None))


def task_row(kind, customer, due, source_key, title, detail=""):
    """A task row for write_tasks: `customer` is (id, owner, department) as owned_customers
    gives it; the title and detail are cut to their columns."""
    customer_id, owner_id, department_id = customer
    return {"kind": kind, "customer_id": customer_id, "assignee_id": owner_id,
            "department_id": department_id, "due_date": due, "source_key": source_key,
            "title": str(title)[:120], "detail": str(detail)[:200]}


def owned_customers(customer_ids):
    """customer id → (id, owner, department) for the owned, active ones among them: whom tasks
    can be written for."""
    found = {}
    ids = list(customer_ids)
    for start in range(0, len(ids), 5000):
        for row in db.session.execute(_owned().where(among(Customer.id,
                                                             ids[start:start + 5000]))):
            found[row[0]] = tuple(row)
    return found


def close_open_tasks(customer_ids, *, reason, now=None):
    """Skip the open tasks of customers who left their owner for the pool (an after-sales
    reminder stays: its ticket is still to be resolved)."""
    if not customer_ids:
        return 0
    return db.session.execute(
        update(Task).where(among(Task.customer_id, customer_ids), Task.status == "open",
                           Task.kind.not_in(OWNERLESS_KINDS))
        .values(status="skipped", skip_reason=str(reason)[:200], done_at=now or utcnow(),
                done_on=local_day(now or utcnow()))
        .execution_options(synchronize_session=False)).rowcount


def follow_owner(customer_ids, to_owner):
    """Open tasks follow their customers to a new owner (or close when the customers are
    pooled)."""
    if to_owner is None:
        close_open_tasks(customer_ids, reason=_("The customer went to the public pool."))
        return
    # A large order's confirmation call stays with its confirmer, an after-sales reminder with
    # the ticket's assignee: never the new marketer's task.
    db.session.execute(update(Task).where(among(Task.customer_id, customer_ids),
                                          Task.status == "open",
                                          Task.kind.not_in(PERSONAL_KINDS))
                       .values(assignee_id=to_owner.id, department_id=to_owner.department_id)
                       .execution_options(synchronize_session=False))


# --- Timeline ------------------------------------------------------------------------------------

def _task_items(customer, limit):
    rows = db.session.scalars(select(Task).where(Task.customer_id == customer.id,
                                                 Task.status == "skipped")
                              .options(lazyload(Task.customer))  # the page's own customer
                              .order_by(Task.done_at.desc()).limit(limit))
    return [TimelineItem(at=task.done_at, kind="task.skipped",
                         title=_("Task skipped: %(title)s", title=task.title),
                         detail=task.skip_reason,
                         actor=task.done_by.display_name if task.done_by else "")
            for task in rows if task.done_at]


register_provider(_task_items)
OWNER_CHANGE_HANDLERS.append(follow_owner)
register_targets({"tasks": _l("Task")})
