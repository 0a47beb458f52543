"""The company's clock: the local day of a moment, the moments a local day spans, and the
numbers of documents (XS20261125-00012), which carry the local day they were written on.

Times are stored in UTC; a day is the company's (its time zone is a setting). Models, jobs and
reports ask this module, never `datetime.combine(...)` with the zone themselves.
`company_zone` and `local_day` are the display filters' own (formatting.py, which the templates
use): one definition of the company day for screens and rules alike.
"""
from datetime import datetime, time, timedelta, timezone

from formatting import company_zone, local_day, to_local

__all__ = ["company_zone", "local_day", "local_moment", "at_local", "day_start", "day_bounds", "document_number",
           "Calendar"]


def at_local(day, clock=time(0), zone=None):
    """The UTC moment of `clock` (a time) on the company's `day`."""
    return datetime.combine(day, clock, tzinfo=zone or company_zone()).astimezone(timezone.utc)


def local_moment(moment, zone=None):
    """A stored (UTC) moment as the company's local date and time (an aware datetime)."""
    return to_local(moment, zone)


def day_start(day, zone=None):
    """The UTC moment the company's `day` begins."""
    return at_local(day, zone=zone)


def day_bounds(day, zone=None):
    """(start, end) of the company's `day` in UTC: start <= moment < end."""
    zone = zone or company_zone()
    return day_start(day, zone), day_start(day + timedelta(days=1), zone)


class Calendar:
    """local_day and day_start with the company's zone read once (it is a setting): for a loop
    over many thousand moments, where reading the setting each time costs more than the rest."""

    def __init__(self):
        self.zone = company_zone()

    def local_day(self, moment):
        return local_day(moment, self.zone)

    def day_start(self, day):
        return at_local(day, zone=self.zone)


def document_number(prefix, now, row_id):
    """A document's number: its prefix, the local day it was written and its row id
    (XS20261125-00012)."""
    return f"{prefix}{local_day(now):%Y%m%d}-{row_id:05d}"
