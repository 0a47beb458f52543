"""The points area's nightly runs: what is left of lots past their date expires, and the
birthday-month bonus (models/points)."""
from models import points


def points_expiry(day, now=None):
    """Lots past their date expire, once (points.run_expiry)."""
    return points.run_expiry(day, now=now)


def birthday_points(day, now=None):
    """The birthday-month bonus, once a year per customer (points.birthday_bonuses)."""
    return points.birthday_bonuses(day, now=now)
