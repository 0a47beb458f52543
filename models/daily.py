"""The day's figures, kept per company day and marketer (issue #27 §3, #29 §3: "counts that are
not recomputed per page view"): arrivals, deals, sales and collections of every closed day, so
that the home pages' 12-week trends read a few hundred rows instead of every payment of twelve
weeks.

Two tables: `day_figures` holds one row per (day, marketer) with the day's sums, and
`day_figures_days` one row per day: whether its figures are complete (`done`) and a `version`
every change of that day's figures raises. A day not done is summed from the ledgers when it is
read (models/activity.py), so the figures are never stale:

- the nightly run (`day-figures`, models/activity.fill_days) writes the closed days of the
  trend window not done yet: it notes the day's version, sums the day, and marks it done only
  if the version is still the one it noted (a change committed meanwhile, or waiting on the
  row's lock, leaves it not done: summed live until the next night);
- any write that changes the figures of a closed day raises that day's version and marks it
  not done, in the same transaction (an upsert: it holds the row, or its key, until it commits):
  a payment, a return or an arrival dated before today, an order of a closed day cancelled,
  confirmed or repriced. The ORM's writes are seen here by the session's before-flush hook,
  which knows these tables by name (this module sits at the bottom of the layers: it imports
  none of them); a write that bypasses the ORM calls `forget_moments` itself (the door's
  check-in statement);
- an order moved to another marketer forgets every day: its payments and returns of other days
  move with it (rare: the figures are summed anew until the next night).
"""
from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, Index, Integer, event, inspect as sa_inspect, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from extensions import db
from models.base import UTCDateTime, utcnow
from models.clock import Calendar

#: The figures of one day and marketer, in the order models/activity.py sums them: arrivals
#: (check-ins of the guests they invited), deals and their totals (binding orders taken), the
#: value of goods returned on their orders, money received on them (deposits, balance and full
#: payments) and the reversals of such money.
FIGURES = ("arrivals", "deals", "taken", "returned", "received", "reversed")
#: Marketer id 0: rows with no marketer (an arrival of a guest nobody invited); −1: the
#: company's row of the day (every marketer's and nobody's), what a manager's page reads.
NOBODY, EVERYONE_ROW = 0, -1


class DayFigures(db.Model):
    """The sums of one company day for one marketer (0: none)."""
    __tablename__ = "day_figures"
    # A department's marketers' days (the home page of a head): marketer first, then the days.
    __table_args__ = (Index("ix_day_figures_marketer_day", "marketer_id", "day"),)

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    marketer_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    arrivals: Mapped[int] = mapped_column(Integer, default=0)
    deals: Mapped[int] = mapped_column(Integer, default=0)
    taken: Mapped[int] = mapped_column(BigInteger, default=0)
    returned: Mapped[int] = mapped_column(BigInteger, default=0)
    received: Mapped[int] = mapped_column(BigInteger, default=0)
    reversed: Mapped[int] = mapped_column(BigInteger, default=0)


class DayFiguresDay(db.Model):
    """A company day: whether its `day_figures` rows are complete, and its version."""
    __tablename__ = "day_figures_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    computed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def _upsert(session, days, *, change):
    """Make the days' rows (none there: a new row); `change` raises their version and marks
    them not done."""
    table = DayFiguresDay.__table__
    dialect = session.get_bind().dialect.name
    statement = (postgresql_insert if dialect == "postgresql" else sqlite_insert)(table).values(
        [{"day": day, "version": 1 if change else 0, "done": False} for day in days])
    if change:
        statement = statement.on_conflict_do_update(
            index_elements=[table.c.day],
            set_={"version": table.c.version + 1, "done": False})
    else:
        statement = statement.on_conflict_do_nothing(index_elements=[table.c.day])
    session.execute(statement)


def forget_days(days, session=None):
    """The figures of these company days are to be summed from the ledgers again (until the
    next nightly run rewrites them). Nothing when `days` is empty."""
    days = sorted(set(days))
    if days:
        _upsert(session or db.session, days, change=True)


def forget_all(session=None):
    (session or db.session).execute(update(DayFiguresDay).values(
        version=DayFiguresDay.version + 1, done=False))


def closed_days(moments, now=None):
    """The company days before today these moments fall on."""
    calendar = Calendar()
    today = calendar.local_day(now or utcnow())
    return {d for d in (calendar.local_day(m) for m in moments if m is not None) if d < today}


def forget_moments(moments, now=None, session=None):
    """Forget the closed days (before today) these moments fall on."""
    forget_days(closed_days(moments, now), session)


def note_days(days):
    """{day: version} of these days, their rows made when missing (the nightly run's first
    step, committed before it sums them: a change from then on raises the version)."""
    days = sorted(set(days))
    if not days:
        return {}
    _upsert(db.session, days, change=False)
    return dict(db.session.execute(db.select(DayFiguresDay.day, DayFiguresDay.version)
                                   .where(DayFiguresDay.day.in_(days))).all())


def mark_done(day, version, now=None):
    """Mark `day` done if its version is still `version`; True when it was."""
    result = db.session.execute(update(DayFiguresDay).where(
        DayFiguresDay.day == day, DayFiguresDay.version == version).values(
        done=True, computed_at=now or utcnow()))
    return result.rowcount == 1


def done_days(first, last):
    """The days from `first` to `last` (inclusive) whose figures are complete."""
    return set(db.session.scalars(db.select(DayFiguresDay.day).where(
        DayFiguresDay.day >= first, DayFiguresDay.day <= last,
        DayFiguresDay.done.is_(True))))


#: What a change to a row of these tables moves: {table: (its moment, the columns whose change
#: alters a figure of that moment's day)}. New and deleted rows always do.
WATCHED = {"payments": ("at", ()),
           "order_returns": ("at", ()),
           "check_ins": ("at", ()),
           "orders": ("created_at", ("status", "confirmation", "total"))}


def _changed(instance, columns):
    state = sa_inspect(instance)
    return any(state.attrs[column].history.has_changes() for column in columns)


@event.listens_for(Session, "before_flush")
def _forget_changed_days(session, _context, _instances):
    """The session's writes that change a closed day's figures forget that day (see the module's
    docstring). Only rows of the watched tables are looked at; a flush without any costs a loop
    over its objects."""
    moments, everything = [], False
    for instance in (*session.new, *session.deleted):
        watched = WATCHED.get(getattr(instance, "__tablename__", None))
        if watched:
            moments.append(getattr(instance, watched[0], None))
    for instance in session.dirty:
        name = getattr(instance, "__tablename__", None)
        watched = WATCHED.get(name)
        if not watched:
            continue
        if name == "orders" and _changed(instance, ("marketer_id",)):
            everything = True
        elif watched[1] and _changed(instance, watched[1]):
            moments.append(getattr(instance, watched[0], None))
    if everything:
        forget_all(session)
    elif any(moment is not None for moment in moments):
        forget_moments(moments, session=session)
