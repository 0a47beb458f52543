"""One formatting helper per kind of value, used as Jinja filters and in printed reports, and
the parsing of the days and ids users type or put in a URL (the one place their bounds live).

Money is integer fen in the database and becomes ¥1,234.50 only here; times are stored in UTC
and shown in the company's time zone (a setting, Asia/Shanghai by default).
"""
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from flask_babel import gettext as _

#: The first and last day accepted from a user: far enough inside the calendar (years 1 to
#: 9999) that a period, the period before it, a year of lunar dates or a time zone added to
#: either end never overflows.
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)
#: The largest row id (ids are 32-bit INTEGER columns).
MAX_ID = 2**31 - 1


def fen(value, symbol="¥"):
    """Integer fen → "¥1,234.50" (negative: "-¥1,234.50"). Integer arithmetic only."""
    if value is None:
        return ""
    value = int(value)
    sign = "-" if value < 0 else ""
    yuan, cents = divmod(abs(value), 100)
    return f"{sign}{symbol}{yuan:,}.{cents:02d}"


def company_zone():
    """The company's time zone (from the settings)."""
    from models.settings import get_setting
    return ZoneInfo(get_setting("general.timezone"))


def to_local(value, zone=None):
    """An aware UTC datetime → the same instant in the company's zone."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(zone or company_zone())


def local_dt(value, fmt="%Y-%m-%d %H:%M", zone=None):
    """A stored (UTC) datetime shown in the company's time zone."""
    if value is None:
        return ""
    return to_local(value, zone).strftime(fmt)


def local_date(value, zone=None):
    """A date, or a stored datetime's date in the company's time zone, as 2026-11-25."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = to_local(value, zone).date()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def local_day(value, zone=None):
    """The date of a stored (UTC) datetime in the company's time zone, as a date."""
    return to_local(value, zone).date()


def masked_phone(value):
    """A phone number with its middle hidden: +8613812348000 → 138****8000."""
    digits = national_phone(value)
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:3]}****{digits[-4:]}"


def national_phone(value):
    """An E.164 mainland number without its +86 prefix (other strings unchanged)."""
    value = value or ""
    return value[3:] if value.startswith("+86") else value


def long_date(value):
    """A day in words for customers and receipts: 2026年12月2日星期三 (the locale's full form)."""
    if value is None:
        return ""
    from flask_babel import format_date
    return format_date(value, "full")


def parse_day(raw, label=None):
    """A day typed or passed in a URL (YYYY-MM-DD; a longer ISO timestamp counts by its day)
    → a date from FIRST_DAY to LAST_DAY, or None when blank. Anything else raises ValueError
    with a message for the user; `label` names the field in it."""
    raw = raw.strip() if isinstance(raw, str) else ""
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw[:10])
    except ValueError:
        shown = raw[:20]
        raise ValueError(_("%(label)s is not a valid date: %(value)s", label=label, value=shown)
                         if label else _("Not a valid date: %(value)s", value=shown)) from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(_("Choose a date from %(first)s to %(last)s.",
                           first=FIRST_DAY.isoformat(), last=LAST_DAY.isoformat()))
    return day


def parse_id(raw):
    """A row id typed or passed in a URL → 1 … MAX_ID; None for anything else (blank, a word,
    0, a negative number, a number no row can have)."""
    raw = raw.strip() if isinstance(raw, str) else str(raw) if type(raw) is int else ""
    if not (raw.isascii() and raw.isdecimal()) or len(raw) > len(str(MAX_ID)):
        return None
    value = int(raw)
    return value if 1 <= value <= MAX_ID else None


FILTERS = {"long_date": long_date, "fen": fen, "local_dt": local_dt, "local_date": local_date,
           "masked_phone": masked_phone, "phone": national_phone}
