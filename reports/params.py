"""The filters every report takes, validated once: a period (start and end days in the company's
time zone, at most a set number of days), a department, a marketer and an event — each within
the user's scope. Out of scope is "not found", never a silently wider report. A marketer's report
is always their own."""
from dataclasses import dataclass, field
from datetime import date, timedelta

from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import select

from extensions import db
from formatting import local_day, parse_day, parse_id
from models.accounts import Department, User
from models.base import InvalidInput, NotFound, utcnow
from models.clock import day_start
from models import scoping
from models.scoping import visible_users
from models.settings import define, get_setting

define("general.report_max_days", "int", 400, _l("Longest report period (days)"), min=1,
       max=3700)

#: Roles that see every department's figures.
ALL_FIGURES = ("admin", "manager", "finance")


@dataclass
class Params:
    user: object
    start: date
    end: date
    department: Department | None = None
    marketer: User | None = None
    event: object = None
    extra: dict = field(default_factory=dict)

    @property
    def since(self):
        """The UTC moment the period begins."""
        return day_start(self.start)

    @property
    def until(self):
        """The UTC moment after the period ends."""
        return day_start(self.end + timedelta(days=1))

    @property
    def days(self):
        return (self.end - self.start).days + 1

    @property
    def label(self):
        return f"{self.start.isoformat()} — {self.end.isoformat()}"

    def previous(self):
        """The period of the same length just before (month on month for a month)."""
        if self.start.day == 1 and (self.end + timedelta(days=1)).day == 1:
            end = self.start - timedelta(days=1)
            return Params(self.user, end.replace(day=1), end, self.department, self.marketer,
                          self.event)
        return Params(self.user, self.start - timedelta(days=self.days),
                      self.start - timedelta(days=1), self.department, self.marketer,
                      self.event)

    def as_args(self):
        args = {"start": self.start.isoformat(), "end": self.end.isoformat()}
        if self.department:
            args["department"] = self.department.id
        if self.marketer:
            args["marketer"] = self.marketer.id
        if self.event is not None:
            args["event"] = self.event.id
        return args


def _day(raw, default, label, field):
    """A day of the period (formatting.parse_day: within 1900–2999, so the period before it
    and its end in UTC never overflow), `default` when blank."""
    try:
        return parse_day(raw, label) or default
    except ValueError as exc:
        raise InvalidInput(str(exc), field=field) from None


def visible_departments(user):
    """Departments whose figures the user may see: finance sees them all, a warehouse clerk
    none."""
    return scoping.visible_departments(user, masked_roles_see_all=user.has_role(*ALL_FIGURES))


def parse(args, user, *, default="month"):
    """Params from a query string; InvalidInput (a Chinese message) for bad input, NotFound for
    a department, marketer or event outside the user's scope."""
    today = local_day(utcnow())
    first = today.replace(day=1) if default == "month" else today - timedelta(days=29)
    start = _day(args.get("start"), first, _("The start"), "start")
    end = _day(args.get("end"), today, _("The end"), "end")
    if end < start:
        raise InvalidInput(_("The end date is before the start date."), field="end")
    longest = get_setting("general.report_max_days")
    if (end - start).days + 1 > longest:
        raise InvalidInput(_("Choose a period of at most %(n)s days.", n=longest), field="end")
    params = Params(user, start, end)
    if (department_id := parse_id(args.get("department"))) is not None:
        params.department = db.session.scalar(
            visible_departments(user).where(Department.id == department_id))
        if params.department is None:
            raise NotFound(_("Not found, or not yours to see."))
    if (marketer_id := parse_id(args.get("marketer"))) is not None:
        params.marketer = db.session.scalar(visible_users(user).where(User.id == marketer_id))
        if params.marketer is None:
            raise NotFound(_("Not found, or not yours to see."))
    if not user.has_role(*ALL_FIGURES, "dept_head"):
        params.marketer = user  # a marketer's report is their own
    if (event_id := parse_id(args.get("event"))) is not None:
        from models.events import get_event_or_404
        params.event = get_event_or_404(event_id, user)
    return params
