"""Tasks and worklists (回访、关怀、催款): every follow-up a marketer owes a customer, written by
the nightly jobs, done from the "Today" list with a contact log.

One task model for every kind. A job for day D writes the tasks due from D to D + the planning
window (a setting), each under a unique key (kind, customer, source, due date), with
INSERT … ON CONFLICT DO NOTHING: a re-run, a second scheduler process or a catch-up writes
nothing twice. A task belongs to the customer's owner when written (and follows the customer when
ownership changes); its status is open, done or skipped — "overdue" is an open task whose due
date has passed, computed when shown.

Lunar birthdays (农历生日) are converted to this year's solar date by a stated rule: a birthday in
a leap month (闰月) is kept in the leap month when the year has it, else in the ordinary month of
that number; a day 30 in a month of 29 days becomes day 29 (the month's last day).
"""
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache

from flask_babel import gettext as _, lazy_gettext as _l
from lunar_python import Lunar, LunarYear
from lunar_python.util import LunarUtil
from sqlalchemy import (CheckConstraint, Date, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint, and_, case, exists, func, or_, select, update)
from sqlalchemy.orm import Mapped, lazyload, mapped_column, relationship

from extensions import db
from formatting import company_zone, fen, local_day
from models.audit import register_actions, register_targets
from models.customers.operations import OWNER_CHANGE_HANDLERS
from models.base import Conflict, InvalidInput, NotFound, PermissionDenied, UTCDateTime, utcnow
from models.settings import define, define_area, get_setting
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
}
STATUSES = {"open": _l("Open"), "done": _l("Done"), "skipped": _l("Skipped"),
            "overdue": _l("Overdue")}
#: Phrases a marketer taps to finish a call without typing.
QUICK_NOTES = (_l("Reached, all is well"), _l("Reached, will come to the next event"),
               _l("No answer, will call again"), _l("Reached, asked for a visit"))
MAX_OVERDUE_SHOWN = 200
CHUNK = 5000


class Task(db.Model):
    __tablename__ = "tasks"
    __table_args__ = (
        UniqueConstraint("kind", "customer_id", "source_key", "due_date", name="uq_tasks_key"),
        CheckConstraint("status IN ('open', 'done', 'skipped')", name="known_status"),
        Index("ix_tasks_assignee_status_due", "assignee_id", "status", "due_date"),
        Index("ix_tasks_department_status_due", "department_id", "status", "due_date"),
        Index("ix_tasks_customer_status", "customer_id", "status"),
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
    def source(self):
        """(type, id) of the record behind the task, e.g. ("order", 12), or (None, None)."""
        kind, _sep, ident = self.source_key.partition(":")
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


# --- Dates ---------------------------------------------------------------------------------------

def day_start(day):
    """The UTC moment a local (company time zone) day begins."""
    return datetime.combine(day, time(0), tzinfo=company_zone()).astimezone(
        utcnow().tzinfo)


def window(day):
    """The due dates a run for `day` writes: day … day + the planning window."""
    return day, day + timedelta(days=get_setting("tasks.plan_days"))


@lru_cache(maxsize=256)
def leap_month_of(year):
    """The leap month of a lunar year (0: none) — calendar arithmetic, cached."""
    return LunarYear.fromYear(year).getLeapMonth()


def _lunar_month(year, month, leap):
    """The lunar month of `year` a (leap) month birthday falls in, by the stated rule."""
    lunar_year = LunarYear.fromYear(year)
    if leap and leap_month_of(year) == month:
        return lunar_year.getMonth(-month), True
    return lunar_year.getMonth(month), False


@lru_cache(maxsize=4096)
def _lunar_to_solar(lunar_year, month, day, leap):
    """(solar date, leap month kept, days in the month) — the calendar arithmetic alone, cached
    (a pure function of its arguments: a few hundred combinations a year)."""
    lunar_month, in_leap = _lunar_month(lunar_year, month, leap)
    days = lunar_month.getDayCount()
    solar = Lunar.fromYmd(lunar_year, -month if in_leap else month, min(day, days)).getSolar()
    return date(solar.getYear(), solar.getMonth(), solar.getDay()), in_leap, days


def lunar_birthday_in(lunar_year, month, day, leap):
    """(solar date, note) of a lunar birthday in lunar year `lunar_year`. The note says how the
    stated rule moved it ("" when it exists as it is)."""
    solar, in_leap, days = _lunar_to_solar(lunar_year, month, day, bool(leap))
    notes = []
    if leap and not in_leap:
        notes.append(_("no leap month %(month)s this year: the ordinary month is used",
                       month=month))
    if day > days:
        notes.append(_("month %(month)s has %(n)s days this year: day %(n)s is used",
                       month=month, n=days))
    return solar, "; ".join(notes)


def lunar_label(month, day, leap):
    """农历闰四月初八 and the like."""
    return f"农历{'闰' if leap else ''}{LunarUtil.MONTH[month]}月{LunarUtil.DAY[day]}"


def birthday_between(customer, start, end):
    """(date, note) of the customer's birthday between start and end (inclusive), or None.
    Solar birthdays on 29 February fall on 28 February in other years."""
    if customer.birthday_kind == "lunar" and customer.lunar_month and customer.lunar_day:
        for lunar_year in range(start.year - 1, end.year + 1):
            day, note = lunar_birthday_in(lunar_year, customer.lunar_month, customer.lunar_day,
                                          customer.lunar_leap)
            if start <= day <= end:
                return day, note
        return None
    if customer.birthday_kind == "solar" and customer.birthday:
        return _anniversary_between(customer.birthday, start, end)
    return None


def _anniversary_between(origin, start, end):
    for year in range(start.year, end.year + 1):
        try:
            day, note = origin.replace(year=year), ""
        except ValueError:  # 29 February
            day, note = date(year, 2, 28), _("29 February: 28 February is used")
        if start <= day <= end:
            return day, note
    return None


# --- Writing tasks -------------------------------------------------------------------------------

def write_tasks(rows, *, now=None, once_per_source=False):
    """Insert task rows (dicts) whose key is new; return how many were written. Safe under two
    concurrent runs: the unique key decides, ON CONFLICT DO NOTHING keeps the first.

    `once_per_source`: kinds whose due date is "the day it was first seen" (a warning) are
    written only if the customer has no task of that kind and source yet."""
    now = now or utcnow()
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
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
                        Task.kind == kind, Task.customer_id.in_(ids[start:start + 5000]))))
        unique = [row for row in unique
                  if (row["kind"], row["customer_id"], row["source_key"]) not in known]
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
    from models.customers import Customer
    return select(Customer.id, Customer.owner_id, Customer.department_id).where(
        Customer.status == "active", Customer.owner_id.is_not(None))


def _row(kind, customer, due, source_key, title, detail=""):
    customer_id, owner_id, department_id = customer
    return {"kind": kind, "customer_id": customer_id, "assignee_id": owner_id,
            "department_id": department_id, "due_date": due, "source_key": source_key,
            "title": str(title)[:120], "detail": str(detail)[:200]}


def callback_plan():
    """[(days after the purchase, wording)] from the settings."""
    plan = []
    for n in (1, 2, 3):
        days = get_setting(f"tasks.callback_{n}_days")
        text = get_setting(f"tasks.callback_{n}_text").strip()
        if days and text:
            plan.append((days, text))
    return plan


def callbacks(day, now=None):
    """Callbacks after a purchase: day 3 usage, day 7 effect, day 30 what is left (settings)."""
    from models.orders import Order
    first, last = window(day)
    rows = []
    title_text, detail_text = _("Day %(n)s: %(text)s"), _("Order %(number)s")
    zone = company_zone()
    for days, text in callback_plan():
        since, until = day_start(first - timedelta(days=days)), \
            day_start(last - timedelta(days=days) + timedelta(days=1))
        found = db.session.execute(
            select(Order.customer_id, Order.id, Order.created_at, Order.number)
            .where(Order.status == "open", Order.created_at >= since, Order.created_at < until,
                   Order.returned_value < Order.total)).all()
        idents = _idents({row[0] for row in found})
        for cid, order_id, created_at, number in found:
            if cid not in idents:
                continue
            due = local_day(created_at, zone) + timedelta(days=days)
            rows.append(_row("callback", idents[cid], due, f"order:{order_id}",
                             title_text % {"n": days, "text": text},
                             detail_text % {"number": number or order_id}))
    return write_tasks(rows, now=now)


def event_follow_ups(day, now=None):
    """The day after an event (a setting): attendees who did not buy, invitees who did not
    come."""
    from models.checkin import CheckIn
    from models.events import Event, Invitation
    from models.orders import Order
    after = get_setting("tasks.event_follow_up_days")
    # Events held on the days whose follow-up falls in the window and which are over.
    first, last = window(day)
    first_event_day = max(first - timedelta(days=after), day - timedelta(days=after))
    last_event_day = min(last - timedelta(days=after), day - timedelta(days=1))
    if last_event_day < first_event_day:
        return 0
    events = db.session.execute(
        select(Event.id, Event.starts_at, Event.title).where(
            Event.status != "cancelled", Event.starts_at >= day_start(first_event_day),
            Event.starts_at < day_start(last_event_day + timedelta(days=1)))).all()
    rows = []
    for event_id, starts_at, name in events:
        due = local_day(starts_at) + timedelta(days=after)
        bought = select(Order.customer_id).where(Order.event_id == event_id,
                                                 Order.status == "open")
        came = select(CheckIn.customer_id).where(CheckIn.event_id == event_id)
        no_buy = db.session.scalars(select(Invitation.customer_id).where(
            Invitation.event_id == event_id, Invitation.status == "attended",
            Invitation.customer_id.not_in(bought))).all()
        no_show = db.session.scalars(select(Invitation.customer_id).where(
            Invitation.event_id == event_id,
            Invitation.status.in_(("invited", "confirmed", "no_show")),
            Invitation.customer_id.not_in(came))).all()
        idents = _idents(set(no_buy) | set(no_show))
        title = _("Came to %(event)s but did not buy", event=name)
        rows.extend(_row("no_buy", idents[cid], due, f"event:{event_id}", title)
                    for cid in no_buy if cid in idents)
        title = _("Invited to %(event)s but did not come", event=name)
        rows.extend(_row("no_show", idents[cid], due, f"event:{event_id}", title)
                    for cid in no_show if cid in idents)
    return write_tasks(rows, now=now)


def care_list(start, end, *, customers=None):
    """Customers whose birthday falls between start and end (inclusive), soonest first:
    [{"customer", "date", "note", "age"}]. `customers`: a select of Customer to limit to."""
    from models.customers import Customer
    query = customers if customers is not None else select(Customer)
    query = query.where(Customer.status == "active")
    solar_months = set()
    cursor = start
    while cursor <= end:
        solar_months.add(cursor.month)
        cursor += timedelta(days=1)
    lunar_months = set()
    for lunar_year in range(start.year - 1, end.year + 1):
        for month in range(1, 13):
            for leap in (False, True):
                if leap and leap_month_of(lunar_year) != month:
                    continue
                first, _note = lunar_birthday_in(lunar_year, month, 1, leap)
                last = first + timedelta(days=30)
                if first <= end and last >= start:
                    lunar_months.add(month)
    query = query.where(or_(
        and_(Customer.birthday_kind == "solar",
             Customer.birth_month.in_(sorted(solar_months | ({2} if 3 in solar_months
                                                              else set())))),
        and_(Customer.birthday_kind == "lunar", Customer.lunar_month.in_(sorted(lunar_months)))))
    found = []
    for customer in db.session.scalars(query):
        hit = birthday_between(customer, start, end)
        if hit is None:
            continue
        day, note = hit
        age = day.year - customer.birth_year if customer.birth_year else None
        found.append({"customer": customer, "date": day, "note": note, "age": age})
    found.sort(key=lambda row: (row["date"], row["customer"].name_pinyin))
    return found


def care(day, now=None):
    """Birthday and anniversary care, a few days ahead (a setting) so a gift can be ready."""
    from models.customers import Customer
    lead = get_setting("tasks.birthday_lead_days")
    first, last = window(day)
    start, end = first + timedelta(days=lead), last + timedelta(days=lead)
    # Only the columns matter here: the owner, channel... are not loaded with each customer.
    owned = select(Customer).where(Customer.owner_id.is_not(None)).options(lazyload("*"))
    rows = []
    age_text, title_text = _(", %(n)s years old"), _("Birthday on %(date)s%(lunar)s%(age)s")
    for hit in care_list(start, end, customers=owned):
        customer = hit["customer"]
        ident = (customer.id, customer.owner_id, customer.department_id)
        age = age_text % {"n": hit["age"]} if hit["age"] else ""
        lunar = f"（{lunar_label(customer.lunar_month, customer.lunar_day, customer.lunar_leap)}）" \
            if customer.birthday_kind == "lunar" else ""
        rows.append(_row("birthday", ident, hit["date"] - timedelta(days=lead),
                         f"birthday:{hit['date'].isoformat()}",
                         title_text % {"date": _md(hit["date"]), "lunar": lunar, "age": age},
                         hit["note"]))
    for customer in db.session.execute(
            select(Customer.id, Customer.owner_id, Customer.department_id, Customer.anniversary)
            .where(Customer.status == "active", Customer.owner_id.is_not(None),
                   Customer.anniversary.is_not(None))):
        hit = _anniversary_between(customer.anniversary, start, end)
        if hit is not None:
            rows.append(_row("anniversary", tuple(customer)[:3], hit[0] - timedelta(days=lead),
                             f"anniversary:{hit[0].isoformat()}",
                             _("Anniversary on %(date)s", date=_md(hit[0])), hit[1]))
    return write_tasks(rows, now=now)


def _md(day):
    return f"{day.month}月{day.day}日"


def arrears(day, now=None):
    """Collection of arrears: a few days before the due date, the day after it, then every N
    days while money is still due (settings)."""
    from models.orders import Order
    before = get_setting("tasks.arrears_before_days")
    repeat = get_setting("tasks.arrears_repeat_days")
    first, last = window(day)
    rows = []
    detail_text, soon_text, late_text = (_("Order %(number)s: %(amount)s due on %(date)s"),
                                         _("Balance due in %(n)s days"),
                                         _("Arrears %(n)s days overdue"))
    found = db.session.execute(
        select(Order.customer_id, Order.id, Order.number, Order.due_date, Order.balance_due)
        .where(Order.status == "open", Order.balance_due > 0, Order.due_date.is_not(None),
               Order.due_date <= last + timedelta(days=before))).all()
    idents = _idents({row[0] for row in found})
    for cid, order_id, number, due_date, balance in found:
        if cid not in idents:
            continue
        reminder = due_date - timedelta(days=before)
        late = (day - due_date).days
        # Overdue: the day after the due date, then every `repeat` days — written on the day
        # itself (a missed night is caught up by running that day).
        if not (first <= reminder <= last or (late >= 1 and (late - 1) % repeat == 0)):
            continue
        detail = detail_text % {"number": number or order_id, "amount": fen(balance),
                                "date": due_date.isoformat()}
        if first <= reminder <= last:
            rows.append(_row("arrears", idents[cid], reminder, f"order:{order_id}",
                             soon_text % {"n": before}, detail))
        if late >= 1 and (late - 1) % repeat == 0:
            rows.append(_row("arrears", idents[cid], day, f"order:{order_id}",
                             late_text % {"n": late}, detail))
    return write_tasks(rows, now=now)


def custody_reminders(day, now=None):
    """Customers who have not collected held goods for N days (every N days), and held goods whose
    batch is near expiry (once per batch)."""
    from models import custody
    every = get_setting("custody.remind_after_days")
    rows = []
    holders = custody.not_collected(day, every)
    idents = _idents([cid for cid, _at, _held in holders])
    for cid, last_at, held in holders:
        if cid not in idents:
            continue
        quiet = (day - local_day(last_at)).days
        due = local_day(last_at) + timedelta(days=(quiet // every) * every)
        rows.append(_row("pickup", idents[cid], due, "custody",
                         _("%(n)s units held, not collected for %(days)s days", n=held,
                           days=(due - local_day(last_at)).days)))
    written = write_tasks(rows, now=now)
    near = get_setting("inventory.near_expiry_days")
    expiring = custody.expiring_held(day, near)
    idents = _idents([customer.id for customer, *_rest in expiring])
    rows = [_row("custody_expiry", idents[customer.id], day, f"batch:{batch.id}",
                 _("%(n)s × %(product)s held, expires %(date)s", n=held, product=product.name,
                   date=batch.expiry_date.isoformat()))
            for customer, product, batch, held in expiring if customer.id in idents]
    return written + write_tasks(rows, now=now, once_per_source=True)


def _idents(customer_ids):
    """customer id → (id, owner, department) for the owned, active ones among them."""
    from models.customers import Customer
    found = {}
    ids = list(customer_ids)
    for start in range(0, len(ids), 5000):
        for row in db.session.execute(_owned().where(Customer.id.in_(ids[start:start + 5000]))):
            found[row[0]] = tuple(row)
    return found


def repurchase(day, now=None):
    """Reminders before the goods bought run out: quantity × days per unit (a product field)
    after the purchase, a few days ahead (a setting)."""
    from models import inventory as inv
    from models.orders import Order, OrderLine
    lead = get_setting("tasks.repurchase_lead_days")
    first, last = window(day)
    longest = db.session.scalar(select(func.max(inv.Product.days_per_unit))) or 0
    if not longest:
        return 0
    due_rows = []
    zone = company_zone()
    for cid, line_id, created_at, quantity, returned, per_unit, name in db.session.execute(
            select(Order.customer_id, OrderLine.id, Order.created_at, OrderLine.quantity,
                   OrderLine.returned, inv.Product.days_per_unit, inv.Product.name)
            .join(OrderLine, OrderLine.order_id == Order.id)
            .join(inv.Product, inv.Product.id == OrderLine.product_id)
            .where(Order.status == "open", inv.Product.days_per_unit > 0,
                   OrderLine.quantity > OrderLine.returned,
                   # a generous bound: no purchase lasts beyond ten years
                   Order.created_at >= day_start(first - timedelta(days=3650)))):
        runs_out = local_day(created_at, zone) + timedelta(days=(quantity - returned) * per_unit)
        due = runs_out - timedelta(days=lead)
        if first <= due <= last:
            due_rows.append((cid, line_id, due, runs_out, name))
    idents = _idents({row[0] for row in due_rows})
    text = _("%(product)s runs out about %(date)s")
    return write_tasks([_row("repurchase", idents[cid], due, f"line:{line_id}",
                             text % {"product": name, "date": runs_out.isoformat()})
                        for cid, line_id, due, runs_out, name in due_rows if cid in idents],
                       now=now)


def planned_follow_ups(day, now=None):
    """The next follow-up a marketer wrote on a contact log, as a task on that day."""
    from models.customers import ContactLog
    first, last = window(day)
    found = db.session.execute(
        select(ContactLog.customer_id, ContactLog.id, ContactLog.next_follow_up,
               ContactLog.outcome, ContactLog.content)
        .where(ContactLog.next_follow_up >= first, ContactLog.next_follow_up <= last)).all()
    idents = _idents({row[0] for row in found})
    title = _("Follow up as planned")
    return write_tasks([_row("follow_up", idents[cid], due, f"contact:{log_id}", title,
                             (outcome or content)[:200])
                        for cid, log_id, due, outcome, content in found if cid in idents],
                       now=now)


# --- Public pool and grades --------------------------------------------------------------------

POOL_RULES = (("never_invited", _l("never invited")),
              ("never_attended", _l("invited but never came")),
              ("never_bought", _l("came but never bought")),
              ("bought", _l("has bought")))


def _pool_days():
    return {"never_invited": get_setting("pool.days_never_invited"),
            "never_attended": get_setting("pool.days_never_attended"),
            "never_bought": get_setting("pool.days_never_bought"),
            "bought": get_setting("customers.pool_days")}


def pool_candidates(day):
    """Owned customers quiet long enough to be warned or reclaimed, with what protects them:
    [(customer id, owner, department, rule, reclaim day, protected)]."""
    from models.custody import CustodyEntry
    from models.customers import Customer
    from models.events import Invitation
    from models.orders import Order
    days = _pool_days()
    warn = get_setting("pool.warn_days")
    shortest = min(days.values())
    idle_since = case((and_(Customer.last_contact_at.is_not(None),
                            Customer.last_contact_at > Customer.owned_since),
                       Customer.last_contact_at), else_=Customer.owned_since)
    horizon = day_start(day + timedelta(days=warn + 1 - shortest))
    invited = exists().where(Invitation.customer_id == Customer.id)
    attended = exists().where(Invitation.customer_id == Customer.id,
                              Invitation.status == "attended")
    bought = exists().where(Order.customer_id == Customer.id, Order.status == "open")
    owes = exists().where(Order.customer_id == Customer.id, Order.status == "open",
                          Order.balance_due > 0)
    holds = Customer.id.in_(select(CustodyEntry.customer_id).group_by(CustodyEntry.customer_id)
                            .having(func.sum(CustodyEntry.quantity) > 0))
    planned = exists().where(Task.customer_id == Customer.id, Task.status == "open",
                             Task.due_date > day, Task.kind != "pool_warning")
    rows = db.session.execute(
        select(Customer.id, Customer.owner_id, Customer.department_id, idle_since,
               invited, attended, bought, or_(owes, holds, planned))
        .where(Customer.status == "active", Customer.owner_id.is_not(None),
               idle_since < horizon)).all()
    found = []
    zone = company_zone()
    for cid, owner, dept, since, was_invited, came, has_bought, protected in rows:
        rule = "bought" if has_bought else "never_bought" if came else \
            "never_attended" if was_invited else "never_invited"
        reclaim_on = local_day(since, zone) + timedelta(days=days[rule])
        if reclaim_on <= day + timedelta(days=warn):
            found.append((cid, owner, dept, rule, reclaim_on, bool(protected)))
    return found


def pool_reclaim(day, now=None):
    """The nightly pool reclaim (公海回收): customers quiet past their rule's days go to the pool
    unless open arrears, held goods or a future task protect them; owners are warned M days
    before. Returns rows written (warnings and moves)."""
    from models.customers import release_idle
    now = now or utcnow()
    days = _pool_days()
    why = {rule: _("%(rule)s, no follow-up in %(n)s days", rule=label, n=days[rule])
           for rule, label in POOL_RULES}
    title = _("Goes to the public pool on %(date)s unless followed up")
    rows, reclaim = [], {}
    for cid, owner, dept, rule, reclaim_on, protected in pool_candidates(day):
        if protected:
            continue
        if reclaim_on <= day:
            reclaim.setdefault((rule, owner), []).append(cid)
        else:
            rows.append(_row("pool_warning", (cid, owner, dept), day,
                             f"pool:{reclaim_on.isoformat()}",
                             title % {"date": reclaim_on.isoformat()}, why[rule]))
    written = write_tasks(rows, now=now, once_per_source=True)
    for (rule, owner), ids in reclaim.items():
        moved = release_idle(ids, owner, reason=why[rule], now=now)
        written += len(moved)
    return written


def close_open_tasks(customer_ids, *, reason, now=None):
    """Skip the open tasks of customers who left their owner for the pool."""
    if not customer_ids:
        return 0
    return db.session.execute(
        update(Task).where(Task.customer_id.in_(customer_ids), Task.status == "open")
        .values(status="skipped", skip_reason=str(reason)[:200], done_at=now or utcnow(),
                done_on=local_day(now or utcnow()))
        .execution_options(synchronize_session=False)).rowcount


def follow_owner(customer, to_owner):
    """Open tasks follow the customer to a new owner (or close when the customer is pooled)."""
    if to_owner is None:
        close_open_tasks([customer.id], reason=_("The customer went to the public pool."))
        return
    # A large order's confirmation call stays with its confirmer: never the marketer's task.
    db.session.execute(update(Task).where(Task.customer_id == customer.id, Task.status == "open",
                                          Task.kind != "confirm_call")
                       .values(assignee_id=to_owner.id, department_id=to_owner.department_id)
                       .execution_options(synchronize_session=False))


def grades(day):
    """customer id → computed grade (A/B/C/D) from recency, frequency and money of purchases and
    attendance over the grading window (settings)."""
    from models.checkin import CheckIn
    from models.customers import Customer
    from models.orders import Order
    since = day_start(day - timedelta(days=get_setting("grade.window_days")))
    a_money = get_setting("grade.a_money_yuan") * 100
    a_orders = get_setting("grade.a_orders")
    bought = dict(((cid, (n, paid)) for cid, n, paid in db.session.execute(
        select(Order.customer_id, func.count(), func.sum(Order.paid))
        .where(Order.status == "open", Order.created_at >= since)
        .group_by(Order.customer_id))))
    came = set(db.session.scalars(select(CheckIn.customer_id).where(CheckIn.at >= since)
                                  .distinct()))
    result = {}
    for cid in db.session.scalars(select(Customer.id).where(Customer.status != "merged")):
        n, paid = bought.get(cid, (0, 0))
        if n and (n >= a_orders or (paid or 0) >= a_money):
            result[cid] = "A"
        elif n:
            result[cid] = "B"
        elif cid in came:
            result[cid] = "C"
        else:
            result[cid] = "D"
    return result


def grading(day, now=None):
    """Nightly grades; a manual grade wins until cleared. Returns customers regraded."""
    from models.customers import Customer
    current = dict(db.session.execute(
        select(Customer.id, Customer.grade).where(Customer.grade_is_manual.is_(False))).all())
    changed = {}
    for cid, grade in grades(day).items():
        if cid in current and current[cid] != grade:
            changed.setdefault(grade, []).append(cid)
    written = 0
    for grade, ids in changed.items():
        for start in range(0, len(ids), 5000):
            written += db.session.execute(
                update(Customer).where(Customer.id.in_(ids[start:start + 5000]),
                                       Customer.grade_is_manual.is_(False))
                .values(grade=grade).execution_options(synchronize_session=False)).rowcount
    return written


def points_expiry(day, now=None):
    from models.points import run_expiry
    return run_expiry(day, now=now)


def birthday_points(day, now=None):
    from models.points import birthday_bonuses
    return birthday_bonuses(day, now=now)


# --- Worklists -----------------------------------------------------------------------------------

def visible_tasks(user):
    from models.scoping import scoped
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
    when asked: up to MAX_OVERDUE_SHOWN)."""
    horizon = today + timedelta(days=upcoming_days)
    part = case((Task.due_date < today, "overdue"), (Task.due_date == today, "today"),
                else_="upcoming")
    base = select(Task).where(Task.assignee_id == assignee_id, Task.status == "open",
                              Task.due_date <= horizon)
    counts = db.session.execute(
        select(part, Task.kind, func.count()).where(
            Task.assignee_id == assignee_id, Task.status == "open", Task.due_date <= horizon)
        .group_by(part, Task.kind)).all()
    bounds = {"overdue": Task.due_date < today, "today": Task.due_date == today,
              "upcoming": Task.due_date > today}
    sections = {name: {} for name in SECTIONS}
    limit = MAX_OVERDUE_SHOWN if kind else per_kind
    for name, task_kind, count in counts:
        if (kind and task_kind != kind) or (section and name != section):
            continue
        tasks = db.session.scalars(base.where(bounds[name], Task.kind == task_kind)
                                   .order_by(Task.due_date, Task.id).limit(limit)).all()
        sections[name][task_kind] = (tasks, count)
    ordered = {name: {k: sections[name][k] for k in KINDS if k in sections[name]}
               for name in SECTIONS}
    return Worklist({name: groups for name, groups in ordered.items() if groups})


def complete_task(task, *, note, kind="call", actor, now=None):
    """Mark a task done: the note becomes a contact log on the customer's timeline. Done twice
    (a double tap, a resubmitted form) returns the first result."""
    from models.customers import record_contact
    now = now or utcnow()
    task = _locked(task)
    if task.status == "done":
        return task
    if task.status != "open":
        raise Conflict(_("This task was skipped: %(reason)s", reason=task.skip_reason))
    if not _may_work_on(task, actor):
        raise PermissionDenied(_("This task is not yours."))
    note = (note or "").strip()
    if not note:
        raise InvalidInput(_("Write what was said or done."), field="note")
    log = record_contact(task.customer, kind=kind, content=f"【{task.kind_label}】{note}",
                         outcome=str(task.title), actor=actor, now=now)
    task.status, task.done_at, task.done_on, task.done_by_id, task.contact_log_id = \
        "done", now, local_day(now), actor.id, log.id
    db.session.flush()
    return task


def skip_task(task, *, reason, actor, now=None):
    """Skip a task with a reason (the customer is in hospital, moved away...)."""
    task = _locked(task)
    if task.status == "skipped":
        return task
    if task.status != "open":
        raise Conflict(_("This task is already done."))
    if not _may_work_on(task, actor):
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


def _may_work_on(task, actor):
    return task.assignee_id == actor.id or actor.has_role("admin", "manager", "dept_head")


def reassign_tasks(task_ids, to_user, *, actor, now=None):
    """Hand open tasks to another marketer (a department head within the department). Returns
    how many moved."""
    from models.audit import audit
    from models.scoping import department_subtree_ids
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
    """Per marketer the user supervises: open, overdue, due today, and over the last `days`
    days done on time, done late and skipped."""
    from models.accounts import User
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
                                   tasks.c.done_on <= tasks.c.due_date), 1),
                             else_=0)),
               func.sum(case((and_(tasks.c.status == "done", tasks.c.due_date >= since,
                                   tasks.c.done_on > tasks.c.due_date), 1),
                             else_=0)),
               func.sum(case((and_(tasks.c.status == "skipped", tasks.c.due_date >= since), 1),
                             else_=0)))
        .group_by(tasks.c.assignee_id)).all()
    users = {u.id: u for u in db.session.scalars(
        select(User).where(User.id.in_([row[0] for row in rows])))}
    figures = []
    for assignee, open_, overdue, due_today, on_time, late, skipped in rows:
        done = (on_time or 0) + (late or 0)
        figures.append({"user": users[assignee], "open": open_ or 0, "overdue": overdue or 0,
                        "today": due_today or 0, "on_time": on_time or 0, "late": late or 0,
                        "skipped": skipped or 0,
                        "on_time_rate": round(100 * (on_time or 0) / done) if done else None})
    figures.sort(key=lambda row: (-row["overdue"], row["user"].display_name))
    return figures


# --- Timeline ------------------------------------------------------------------------------------

def _task_items(customer, limit):
    rows = db.session.scalars(select(Task).where(Task.customer_id == customer.id,
                                                 Task.status == "skipped")
                              .order_by(Task.done_at.desc()).limit(limit))
    return [TimelineItem(at=task.done_at, kind="task.skipped",
                         title=_("Task skipped: %(title)s", title=task.title),
                         detail=task.skip_reason,
                         actor=task.done_by.display_name if task.done_by else "")
            for task in rows if task.done_at]


register_provider(_task_items)
OWNER_CHANGE_HANDLERS.append(follow_owner)
register_actions({"task.reassign": _l("Tasks reassigned")})
register_targets({"tasks": _l("Task")})

define_area("tasks", _l("Tasks and callbacks"))
define("tasks.nightly_hour", "int", 2, _l("Nightly run at (hour, company time zone)"),
       _l("The scheduler writes the day's tasks at this hour (0–23)."), min=0, max=23)
define("tasks.plan_days", "int", 7, _l("Write tasks this many days ahead"), min=1, max=60)
define("tasks.callback_1_days", "int", 3, _l("First callback after a purchase (days)"),
       min=1, max=365)
define("tasks.callback_1_text", "str", "使用指导", _l("First callback: what to ask"),
       max_length=60)
define("tasks.callback_2_days", "int", 7, _l("Second callback after a purchase (days)"),
       min=1, max=365)
define("tasks.callback_2_text", "str", "效果回访", _l("Second callback: what to ask"),
       max_length=60)
define("tasks.callback_3_days", "int", 30, _l("Third callback after a purchase (days)"),
       min=1, max=365)
define("tasks.callback_3_text", "str", "余量回访", _l("Third callback: what to ask"),
       max_length=60)
define("tasks.event_follow_up_days", "int", 1, _l("Follow up after an event (days)"),
       min=1, max=30)
define("tasks.birthday_lead_days", "int", 3, _l("Birthday care: days ahead"), min=1, max=30)
define("tasks.arrears_before_days", "int", 3, _l("Arrears: remind days before the due date"),
       min=1, max=60)
define("tasks.arrears_repeat_days", "int", 7, _l("Arrears: remind again every (days)"),
       min=1, max=90)
define("tasks.repurchase_lead_days", "int", 7,
       _l("Repurchase: remind days before the goods run out"), min=1, max=90)
define_area("pool", _l("Public pool"))
define("pool.days_never_invited", "int", 30, _l("Never invited: days before the pool"),
       min=1, max=3650)
define("pool.days_never_attended", "int", 60, _l("Invited, never came: days before the pool"),
       min=1, max=3650)
define("pool.days_never_bought", "int", 90, _l("Came, never bought: days before the pool"),
       min=1, max=3650)
define("pool.warn_days", "int", 7, _l("Warn the owner days before the pool"), min=1, max=60)
define_area("grade", _l("Customer grades"))
define("grade.window_days", "int", 365, _l("Grades look back (days)"), min=1, max=3650)
define("grade.a_money_yuan", "int", 10000, _l("Grade A: paid at least (yuan)"), min=1,
       max=100_000_000)
define("grade.a_orders", "int", 3, _l("Grade A: or at least this many orders"), min=1, max=1000)
