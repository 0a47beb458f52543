"""The day figures the home pages read (models/daily.py, models/activity.py): each night the
closed days of the trend window not kept yet — the day just ended, and any day a late write
changed — are summed from the ledgers and kept. A re-run finds every day done and writes
nothing."""
from models import activity


def day_figures(day, now=None):
    """Keep the figures of the closed days before `day`; returns the rows written."""
    return activity.fill_days(day, now)
