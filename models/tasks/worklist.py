"""The worklists (今日待办): a marketer's "Today" — overdue, due today, coming — and what is done
from it (a task done becomes a contact log; skipped with a reason; handed to another
marketer), and the team figures their department head and managers supervise.
"""
from dataclasses import dataclass
from datetime import timedelta

from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import and_, case, func, or_, select

from extensions import db
from models.accounts import User, UserRole
from models.audit import audit, register_actions
from models.base import Conflict, InvalidInput, NotFound, PermissionDenied, utcnow
from models.clock import local_day
from models.customers import record_contact
from models.scoping import department_subtree_ids, scoped
from models.settings import get_setting
from models.tasks.tables import KINDS, MAX_OVERDUE_SHOWN, OUTCOMES, Task, task_row, write_tasks


def visible_tasks(user):
    return scoped(select(Task), user, Task, masked_roles_see_all=False)


def get_task_or_404(task_id, user):
    task = db.session.scalar(visible_tasks(user).where(Task.id == task_id))
    if task is None:
        raise NotFound(_("Not found, or not yours to see."))
    return task


SECTIONS = ("overdue", "today", "upcoming")


@dataclass
class Worklist:
    """section ("overdue", "today", "upcoming") → kind → (the first tasks, how many there are).
    """
    sections: dict

    @property
    def empty(self):
        return not any(self.sections.values())

    def total(self, section):
        return sum(count for _tasks, count in self.sections.get(section, {}).values())

    def shown(self, section):
        return sum(len(tasks) for tasks, _count in self.sections.get(section, {}).values())


def today_list(assignee_id, today, *, upcoming_days=7, per_kind=6, kind=None, section=None):
    """A marketer's "Today": open tasks overdue, due today and coming (the next week), grouped by
    kind — the oldest `per_kind` of each group with the group's size (one kind of one section
    when asked: up to MAX_OVERDUE_SHOWN).

    One query: each open task is ranked within its group and counted with it (window
    functions), and the first of each group read with their customers — not a query a group
    (some twenty on a busy list)."""
    horizon = today + timedelta(days=upcoming_days)
    part = case((Task.due_date < today, "overdue"), (Task.due_date == today, "today"),
                else_="upcoming")
    groups = (part, Task.kind)
    ranked = select(
        Task.id, part.label("part"),
        func.row_number().over(partition_by=groups, order_by=(Task.due_date, Task.id))
        .label("rank"),
        func.count().over(partition_by=groups).label("size")).where(
        Task.assignee_id == assignee_id, Task.status == "open", Task.due_date <= horizon)
    if kind:
        ranked = ranked.where(Task.kind == kind)
    if section:
        ranked = ranked.where(part == section)
    ranked = ranked.subquery()
    rows = db.session.execute(
        select(Task, ranked.c.part, ranked.c.size).join(ranked, ranked.c.id == Task.id)
        .where(ranked.c.rank <= (MAX_OVERDUE_SHOWN if kind else per_kind))
        .order_by(Task.due_date, Task.id)).all()
    sections = {name: {} for name in SECTIONS}
    for task, name, size in rows:
        sections[name].setdefault(task.kind, ([], size))[0].append(task)
    ordered = {name: {k: sections[name][k] for k in KINDS if k in sections[name]}
               for name in SECTIONS}
    return Worklist({name: groups for name, groups in ordered.items() if groups})


def complete_task(task, *, note, kind="call", actor, now=None, outcome="reached",
                  early_reason=""):
    """Mark a task done with how it went (OUTCOMES): the note becomes a contact log on the
    customer's timeline. 未接通 closes this attempt and writes the next one for the next day,
    or, after `tasks.max_attempts` attempts, an escalation task for the department head. A task
    due on a later day needs `early_reason`. Done twice (a double tap, a resubmitted form)
    returns the first result."""
    now = now or utcnow()
    task = _locked(task)
    if task.status == "done":
        return task
    if task.status != "open":
        raise Conflict(_("This task was skipped: %(reason)s", reason=task.skip_reason))
    if not may_work_on(task, actor):
        raise PermissionDenied(_("This task is not yours."))
    if outcome not in OUTCOMES:
        raise InvalidInput(_("Choose how the call went: reached, no answer or refused."),
                           field="outcome")
    note = (note or "").strip()
    if not note and outcome != "reached":
        note = str(OUTCOMES[outcome])
    if not note:
        raise InvalidInput(_("Write what was said or done."), field="note")
    today = local_day(now)
    early_reason = (early_reason or "").strip()
    if task.due_date > today and not early_reason:
        raise InvalidInput(_("This task is due on %(day)s: say why it is done ahead of its "
                             "day.", day=task.due_date.isoformat()), field="early_reason")
    content = f"【{task.kind_label}】{note}" if outcome == "reached" else \
        f"【{task.kind_label}·{OUTCOMES[outcome]}】{note}"
    if early_reason:
        content += _("（done ahead of its day: %(reason)s）", reason=early_reason)
    log = record_contact(task.customer, kind=kind, content=content, outcome=str(task.title),
                         actor=actor, now=now, reached=outcome != "no_answer")
    task.status, task.done_at, task.done_on, task.done_by_id, task.contact_log_id = \
        "done", now, today, actor.id, log.id
    task.outcome, task.early_reason = outcome, early_reason[:200]
    db.session.flush()
    if outcome == "no_answer":
        _next_attempt(task, today, now)
    return task


def department_head(department_id):
    """The active head of a department (the first by id), or None."""
    if department_id is None:
        return None
    return db.session.scalar(
        select(User).join(UserRole, UserRole.user_id == User.id).where(
            User.department_id == department_id, User.is_active.is_(True),
            UserRole.role == "dept_head").order_by(User.id).limit(1))


def _keyed(prefix, base, suffix=""):
    """prefix + base + suffix cut to the source key's 40 characters (the base is cut)."""
    return (prefix + base)[:40 - len(suffix)] + suffix


def _next_attempt(task, today, now):
    """After a 未接通: the next attempt for the next day, or after the last allowed attempt an
    escalation task for the head of the customer's department (none: the marketer keeps it,
    and the team page counts it). An escalation is attempted as often, then ends: it is never
    escalated again."""
    attempts = get_setting("tasks.max_attempts")
    ident = (task.customer_id, task.assignee_id, task.department_id)
    if task.attempt < attempts:
        n = task.attempt + 1
        row = task_row(task.kind, ident, today + timedelta(days=1),
                       _keyed("", task.base_key, f"~{n}"), task.title,
                       _("Attempt %(n)s (%(m)s unanswered before)", n=n, m=n - 1))
        row["attempt"] = n
        write_tasks([row], now=now)
        return
    if task.kind == "escalation":  # the head's own last attempt: nobody above to tell
        return
    customer = task.customer
    head = department_head(customer.department_id or task.department_id)
    if head is not None:
        ident = (task.customer_id, head.id, head.department_id)
    write_tasks([task_row("escalation", ident, today, _keyed("esc:", task.base_key),
                          _("Unreachable after %(n)s calls", n=task.attempt),
                          _("%(who)s: %(title)s", who=task.assignee.display_name,
                            title=task.title))], now=now)


def skip_task(task, *, reason, actor, now=None):
    """Skip a task with a reason (the customer is in hospital, moved away...)."""
    task = _locked(task)
    if task.status == "skipped":
        return task
    if task.status != "open":
        raise Conflict(_("This task is already done."))
    if not may_work_on(task, actor):
        raise PermissionDenied(_("This task is not yours."))
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(_("Say why the task is skipped."), field="reason")
    now = now or utcnow()
    task.status, task.skip_reason, task.done_at, task.done_on, task.done_by_id = \
        "skipped", reason[:200], now, local_day(now), actor.id
    db.session.flush()
    return task


def _locked(task):
    return db.session.scalars(select(Task).where(Task.id == task.id).with_for_update(of=Task)
                              .execution_options(populate_existing=True)).one()


def may_work_on(task, actor):
    """The assignee, or a supervisor who can see the task."""
    return task.assignee_id == actor.id or actor.has_role("admin", "manager", "dept_head")


def reassign_tasks(task_ids, to_user, *, actor, now=None):
    """Hand open tasks to another marketer (a department head within the department). Returns
    how many moved."""
    if to_user is None or not to_user.is_active or not to_user.has_role("marketer"):
        raise InvalidInput(_("Choose an active marketer."), field="to_user")
    if not actor.has_role("admin", "manager"):
        if not actor.has_role("dept_head") or to_user.department_id not in \
                department_subtree_ids(actor.department_id):
            raise PermissionDenied(_("You may hand tasks only to marketers of your "
                                     "department."), field="to_user")
    ids = [int(t) for t in task_ids or ()]
    if not ids:
        raise InvalidInput(_("Tick the tasks to hand over."), field="task_ids")
    tasks = db.session.scalars(visible_tasks(actor).where(Task.id.in_(ids),
                                                          Task.status == "open")
                               .with_for_update(of=Task)).all()
    if len(tasks) != len(set(ids)):
        raise NotFound(_("Some tasks are done already, or not yours to hand over."))
    for task in tasks:
        task.assignee_id, task.department_id = to_user.id, to_user.department_id
    db.session.flush()
    audit(actor, "task.reassign", None, summary=_("%(n)s tasks to %(name)s", n=len(tasks),
                                                  name=to_user.display_name), now=now)
    return len(tasks)


def team_figures(user, today, *, days=30):
    """Per marketer the user supervises: open, overdue, due today, open escalations (多次未接通
    kept by a marketer whose department has no head, or the head's own), and over the last
    `days` days done on time (reached), done late and skipped."""
    since = today - timedelta(days=days)
    tasks = visible_tasks(user).subquery()
    rows = db.session.execute(
        select(tasks.c.assignee_id,
               func.sum(case((tasks.c.status == "open", 1), else_=0)),
               func.sum(case((and_(tasks.c.status == "open", tasks.c.due_date < today), 1),
                             else_=0)),
               func.sum(case((and_(tasks.c.status == "open", tasks.c.due_date == today), 1),
                             else_=0)),
               func.sum(case((and_(tasks.c.status == "done", tasks.c.due_date >= since,
                                   tasks.c.done_on <= tasks.c.due_date,
                                   or_(tasks.c.outcome == "reached",
                                       tasks.c.outcome.is_(None))), 1),
                             else_=0)),
               func.sum(case((and_(tasks.c.status == "done", tasks.c.due_date >= since,
                                   tasks.c.done_on > tasks.c.due_date), 1),
                             else_=0)),
               func.sum(case((and_(tasks.c.status == "skipped", tasks.c.due_date >= since), 1),
                             else_=0)),
               func.sum(case((and_(tasks.c.status == "open", tasks.c.kind == "escalation"), 1),
                             else_=0)))
        .group_by(tasks.c.assignee_id)).all()
    users = {u.id: u for u in db.session.scalars(
        select(User).where(User.id.in_([row[0] for row in rows])))}
    figures = []
    for assignee, open_, overdue, due_today, on_time, late, skipped, escalated in rows:
        done = (on_time or 0) + (late or 0)
        figures.append({"user": users[assignee], "open": open_ or 0, "overdue": overdue or 0,
                        "today": due_today or 0, "on_time": on_time or 0, "late": late or 0,
                        "skipped": skipped or 0, "escalated": escalated or 0,
                        "on_time_rate": round(100 * (on_time or 0) / done) if done else None})
    figures.sort(key=lambda row: (-row["overdue"], row["user"].display_name))
    return figures


register_actions({"task.reassign": _l("Tasks reassigned")})
