"""Birthdays and anniversaries (生日、纪念日): the lunar calendar rules in one place, and the care
list built on them.

Lunar birthdays (农历生日) are converted to a year's solar date by a stated rule: a birthday in
a leap month (闰月) is kept in the leap month when the year has it, else in the ordinary month of
that number; a day 30 in a month of 29 days becomes day 29 (the month's last day). Solar
birthdays and anniversaries on 29 February fall on 28 February in other years.
"""
from datetime import date, timedelta
from functools import lru_cache

from flask_babel import gettext as _
from lunar_python import Lunar, LunarYear
from lunar_python.util import LunarUtil
from sqlalchemy import and_, or_, select

from extensions import db
from models.base import InvalidInput
from models.customers.tables import Customer

__all__ = ["LUNAR_DAY_NAMES", "LUNAR_MONTH_NAMES", "anniversary_between", "birthday_between",
           "care_list", "check_lunar_birthday", "leap_month_of", "lunar_birthday_in",
           "lunar_label"]

#: The calendar's names of the lunar months (正 二 … 十 冬 腊, index 1–12) and days (初一 …
#: 廿九 三十, index 1–30), for reading them (models.customers.parsing) and writing them.
LUNAR_MONTH_NAMES = tuple(LunarUtil.MONTH)
LUNAR_DAY_NAMES = tuple(LunarUtil.DAY)


@lru_cache(maxsize=256)
def leap_month_of(year):
    """The leap month of a lunar year (0: none) — calendar arithmetic, cached."""
    return LunarYear.fromYear(year).getLeapMonth()


def _month_of(year, month, leap):
    """The lunar month `month` (the leap one when `leap`) of lunar year `year`, or None when the
    year has no such leap month."""
    return LunarYear.fromYear(year).getMonth(-month if leap else month)


def check_lunar_birthday(month, day, leap, year=None):
    """Raise InvalidInput unless month/day (leap) is a lunar date that exists (in `year`)."""
    if not month or not 1 <= month <= 12:
        raise InvalidInput(_("The lunar month must be 1–12."), field="lunar_month")
    if not day or not 1 <= day <= 30:
        raise InvalidInput(_("The lunar day must be 1–30."), field="lunar_day")
    if year:
        lunar_month = _month_of(year, month, leap)
        if lunar_month is None:
            raise InvalidInput(_("Lunar year %(year)s has no leap month %(month)s.", year=year,
                                 month=month), field="lunar_month")
        if day > lunar_month.getDayCount():
            raise InvalidInput(_("Lunar month %(month)s of %(year)s has only %(n)s days.",
                                 month=month, year=year, n=lunar_month.getDayCount()),
                               field="lunar_day")


def _lunar_month(year, month, leap):
    """The lunar month of `year` a (leap) month birthday falls in, by the stated rule."""
    in_leap = bool(leap) and leap_month_of(year) == month
    return _month_of(year, month, in_leap), in_leap


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
    return f"农历{'闰' if leap else ''}{LUNAR_MONTH_NAMES[month]}月{LUNAR_DAY_NAMES[day]}"


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
        return anniversary_between(customer.birthday, start, end)
    return None


def anniversary_between(origin, start, end):
    """(date, note) of the yearly return of `origin` between start and end (inclusive), or
    None; 29 February falls on 28 February in other years."""
    for year in range(start.year, end.year + 1):
        try:
            day, note = origin.replace(year=year), ""
        except ValueError:  # 29 February
            day, note = date(year, 2, 28), _("29 February: 28 February is used")
        if start <= day <= end:
            return day, note
    return None


def care_list(start, end, *, customers=None, rows=False):
    """Customers whose birthday falls between start and end (inclusive), soonest first:
    [{"customer", "date", "note", "age"}]. `customers`: a select of Customer to limit to;
    `rows`: it selects columns (at least the birthday's, birth_year and name_pinyin), and each
    "customer" is a row of them."""
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
    for customer in (db.session.execute if rows else db.session.scalars)(query):
        hit = birthday_between(customer, start, end)
        if hit is None:
            continue
        day, note = hit
        age = day.year - customer.birth_year if customer.birth_year else None
        found.append({"customer": customer, "date": day, "note": note, "age": age})
    found.sort(key=lambda row: (row["date"], row["customer"].name_pinyin))
    return found
