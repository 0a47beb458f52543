"""Targets (目标): what a marketer or a department is to reach in a month (or a week) — contacts
made, invitations, confirmed, arrivals, sales, money collected, new customers.

Managers (and administrators) set the departments' targets and anyone's; a department head sets
the targets of the marketers in their department (and below). A head may copy last period's
targets, or spread the department's target evenly over its marketers, then adjust. A target is a
plain value a person edits (not a ledger): every change is audited with the value before and
after; an empty value clears the target.

How far a target is reached (the actual figures, the pace, the rank) is a report:
reports/targets.py reads the performance figures for the same period.
"""
from datetime import date, datetime, timedelta

from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, String, UniqueConstraint, \
    select
from sqlalchemy.orm import Mapped, mapped_column

from extensions import db
from models.accounts import Department, User, UserRole
from models.audit import audit, register_actions, register_targets
from models.base import InvalidInput, NotFound, PermissionDenied, UTCDateTime, among, utcnow
from models.scoping import department_subtree_ids

#: The figures a target may be set for (their actual value is the performance report's figure of
#: the same key), in the order they are shown; money figures are in fen.
FIGURES = {"contacts": _l("Contacts made"), "invitations": _l("Invitations made"),
           "confirmed": _l("Confirmed"), "arrivals": _l("Arrivals"), "sales": _l("Sales"),
           "collections": _l("Money collected"), "new": _l("New customers")}
MONEY = frozenset({"sales", "collections"})
PERIODS = {"month": _l("Month"), "week": _l("Week")}
SCOPES = ("marketer", "department")
#: The largest target: ¥100,000,000 in fen, or a hundred million of a count.
MAX_VALUE = 10_000_000_000
#: Roles that set targets: any department's and anyone's; a head only their marketers'.
SETTERS = ("admin", "manager")

register_targets({"targets": _l("Target")})
register_actions({"targets.set": _l("Targets set"), "targets.copy": _l("Targets copied"),
                  "targets.spread": _l("Department target spread")})


class Target(db.Model):
    """One figure to reach for one marketer or department in one period."""
    __tablename__ = "targets"
    __table_args__ = (
        UniqueConstraint("scope", "subject_id", "period", "starts_on", "figure",
                         name="uq_targets_subject_period_figure"),
        Index("ix_targets_period", "period", "starts_on", "scope"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: "marketer" (subject_id a user) or "department" (subject_id a department).
    scope: Mapped[str] = mapped_column(String(12))
    subject_id: Mapped[int] = mapped_column(Integer)
    #: "month" (starts_on the 1st) or "week" (starts_on a Monday).
    period: Mapped[str] = mapped_column(String(6))
    starts_on: Mapped[date] = mapped_column(Date)
    figure: Mapped[str] = mapped_column(String(20))
    #: A count, or fen for the money figures.
    value: Mapped[int] = mapped_column(BigInteger)
    set_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# --- Periods ---------------------------------------------------------------------------------

def period_start(period, day):
    """The first day of the month or the Monday of the week holding `day`."""
    if period not in PERIODS:
        raise InvalidInput(_("Choose a month or a week."), field="period")
    return day.replace(day=1) if period == "month" else day - timedelta(days=day.weekday())


def period_end(period, start):
    """The last day of the period that begins on `start`."""
    if period == "week":
        return start + timedelta(days=6)
    following = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return following - timedelta(days=1)


def previous_start(period, start):
    return (start - timedelta(days=1)).replace(day=1) if period == "month" \
        else start - timedelta(days=7)


def elapsed(period, start, today):
    """The share of the period gone by at the end of `today` (0 … 1)."""
    end = period_end(period, start)
    days = (end - start).days + 1
    if today < start:
        return 0.0
    return min(1.0, ((min(today, end) - start).days + 1) / days)


# --- Who sets whose targets -------------------------------------------------------------------

def marketers_of(department_id):
    """The active marketers of a department and the departments below it, by name."""
    return list(db.session.scalars(select(User).where(
        User.is_active.is_(True), User.department_id.in_(department_subtree_ids(department_id)),
        User.id.in_(select(UserRole.user_id).where(UserRole.role == "marketer")))
        .order_by(User.display_name)))


def may_set(actor, scope, subject):
    if actor.has_role(*SETTERS):
        return True
    if scope == "marketer" and actor.has_role("dept_head") and actor.department_id is not None:
        return subject.department_id in department_subtree_ids(actor.department_id)
    return False


def subject_or_404(scope, subject_id, actor, *, to_set=False):
    """The marketer or department `actor` may look at (and, with `to_set`, set targets for)."""
    if scope not in SCOPES:
        raise NotFound(_("Not found, or not yours to see."))
    model = User if scope == "marketer" else Department
    subject = db.session.get(model, subject_id) \
        if isinstance(subject_id, int) and 0 < subject_id < 2**31 else None
    if subject is None:
        raise NotFound(_("Not found, or not yours to see."))
    if to_set and not may_set(actor, scope, subject):
        raise PermissionDenied(_("A department head sets the targets of their own marketers; "
                                 "a manager sets the departments'."))
    if not to_set and not actor.has_role(*SETTERS, "finance"):
        own = subject.id == actor.id if scope == "marketer" else False
        department = subject.department_id if scope == "marketer" else subject.id
        if not own and not (actor.has_role("dept_head") and department in
                            department_subtree_ids(actor.department_id)):
            raise NotFound(_("Not found, or not yours to see."))
    return subject


# --- Reading ----------------------------------------------------------------------------------

def targets_of(scope, subject_ids, period, start):
    """{subject id: {figure: value}} of the targets set for the period."""
    found = {}
    ids = list(subject_ids)
    if not ids:
        return found
    for subject_id, figure, value in db.session.execute(
            select(Target.subject_id, Target.figure, Target.value).where(
                Target.scope == scope, Target.period == period, Target.starts_on == start,
                among(Target.subject_id, ids))):
        found.setdefault(subject_id, {})[figure] = value
    return found


# --- Writing ----------------------------------------------------------------------------------

def clean_values(values):
    """{figure: value or None} checked: known figures, whole numbers from 0 to MAX_VALUE (fen
    for money). Raises InvalidInput naming the figure."""
    clean = {}
    for figure, value in values.items():
        if figure not in FIGURES:
            raise InvalidInput(_("Unknown target."), field=figure)
        if value is None:
            clean[figure] = None
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise InvalidInput(_("%(figure)s: a target cannot be below zero.",
                                 figure=FIGURES[figure]), field=figure)
        if value > MAX_VALUE:
            raise InvalidInput(_("%(figure)s: the target is too large.",
                                 figure=FIGURES[figure]), field=figure)
        clean[figure] = value
    return clean


def _write(scope, subject, period, start, values, actor, now):
    """Set (or clear, for None) each figure; returns {figure: (before, after)} of the changes."""
    rows = {row.figure: row for row in db.session.scalars(
        select(Target).where(Target.scope == scope, Target.subject_id == subject.id,
                             Target.period == period, Target.starts_on == start)
        .with_for_update())}
    changed = {}
    for figure, value in values.items():
        row = rows.get(figure)
        before = row.value if row is not None else None
        if before == value:
            continue
        if value is None:
            db.session.delete(row)
        elif row is None:
            db.session.add(Target(scope=scope, subject_id=subject.id, period=period,
                                  starts_on=start, figure=figure, value=value,
                                  set_by_id=actor.id, set_at=now))
        else:
            row.value, row.set_by_id, row.set_at = value, actor.id, now
        changed[figure] = (before, value)
    return changed


def _name(scope, subject):
    return subject.display_name if scope == "marketer" else subject.name


def set_targets(scope, subject, period, start, values, *, actor, now=None):
    """Set the subject's targets for the period beginning on `start` (values: {figure: value or
    None}). Returns the figures changed."""
    if not may_set(actor, scope, subject):
        raise PermissionDenied(_("A department head sets the targets of their own marketers; "
                                 "a manager sets the departments'."))
    if period_start(period, start) != start:
        raise InvalidInput(_("A period begins on the 1st of a month or on a Monday."),
                           field="start")
    values = clean_values(values)
    changed = _write(scope, subject, period, start, values, actor, now or utcnow())
    db.session.flush()
    if changed:
        audit(actor, "targets.set", None, summary=f"{_name(scope, subject)} · "
              f"{PERIODS[period]} {start.isoformat()}",
              before={f: b for f, (b, _a) in changed.items()},
              after={f: a for f, (_b, a) in changed.items()})
    return changed


def copy_previous(department, period, start, *, actor, now=None):
    """Give each marketer of the department, for each figure not yet set this period, the
    target they had the period before. Returns the number of targets written."""
    before = previous_start(period, start)
    people = [m for m in marketers_of(department.id) if may_set(actor, "marketer", m)]
    if not people:
        raise InvalidInput(_("This department has no marketer whose targets you set."))
    last = targets_of("marketer", [m.id for m in people], period, before)
    now_set = targets_of("marketer", [m.id for m in people], period, start)
    written = 0
    for marketer in people:
        wanted = {figure: value for figure, value in last.get(marketer.id, {}).items()
                  if figure not in now_set.get(marketer.id, {})}
        if wanted:
            written += len(_write("marketer", marketer, period, start, wanted, actor,
                                  now or utcnow()))
    if not written:
        raise InvalidInput(_("Nothing to copy: the period before has no targets that are not "
                             "set already."))
    db.session.flush()
    audit(actor, "targets.copy", None, summary=f"{department.name} · {PERIODS[period]} "
          f"{before.isoformat()} → {start.isoformat()}", after={"targets": written})
    return written


def spread(department, period, start, *, actor, now=None):
    """Share the department's targets for the period evenly among its marketers (whole units;
    the remainder one each to the first by name), replacing their targets for those figures.
    Returns {figure: [share per marketer]}."""
    if not actor.has_role(*SETTERS) and not (
            actor.has_role("dept_head") and
            department.id in department_subtree_ids(actor.department_id)):
        raise PermissionDenied(_("A department head sets the targets of their own marketers; "
                                 "a manager sets the departments'."))
    totals = targets_of("department", [department.id], period, start).get(department.id, {})
    if not totals:
        raise InvalidInput(_("Set the department's targets for this period first."))
    people = marketers_of(department.id)
    if not people:
        raise InvalidInput(_("This department has no active marketer."))
    shares = {}
    for figure, total in totals.items():
        each, left = divmod(total, len(people))
        shares[figure] = [each + (1 if i < left else 0) for i in range(len(people))]
    for i, marketer in enumerate(people):
        _write("marketer", marketer, period, start,
               {figure: values[i] for figure, values in shares.items()}, actor, now or utcnow())
    db.session.flush()
    audit(actor, "targets.spread", None, summary=f"{department.name} · {PERIODS[period]} "
          f"{start.isoformat()}", after={"marketers": len(people)})
    return shares
