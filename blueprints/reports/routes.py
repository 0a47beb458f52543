"""Reports on screen and in print: each has a filter form, an HTML view of the gathered data, a
PDF of the same data and an .xlsx of its table rows. Params are validated once
(reports/params.py): a bad period is a clear message, a department, marketer or event out of
scope a 404."""
from flask import Blueprint

bp = Blueprint("reports", __name__, url_prefix="/reports")

# Each report's routes live in their own module and register on `bp`.
from blueprints.reports import (channel_roi, event_roi, finance, performance,  # noqa: E402,F401
                               profit, targets, commission, assessment)
