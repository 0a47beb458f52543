"""The monthly assessment (考核表, #27 §2): per marketer, the month's targets beside the actual
figures, the commission, and the reward and penalty rules the company set, with the total.

- targets vs actual: the seven figures of reports/targets.py (contacts made, invitations,
  confirmed, arrivals, sales, money collected, new customers) — the performance report's
  figure for the month beside the marketer's target of the month, and done = actual ÷ target;
- commission: the month's run (models/commission): the sum of the marketer's lines — none
  before the month is computed; a draft is marked as such until finance approves it;
- bonus: commission.bonus_per_point_yuan for each whole percentage point of the money
  collected target reached above 100 % (collected × 100 ÷ target, rounded down; none without
  a target);
- deduction: commission.deduction_per_overdue_yuan for each callback of the month done late
  or still open past its day (the performance figure callbacks_overdue);
- total = commission + bonus − deduction (fen).

On screen every figure links to its rows (the performance rows, the commission lines); the
same data prints as an A4 PDF and downloads as .xlsx.
"""
from flask_babel import gettext as _

from extensions import db, reads_reports
from formatting import fen
from models import commission as cm, targets as tg
from models.accounts import Department
from models.base import utcnow
from models.settings import get_setting
from reports import performance, render_pdf
from reports.params import Params


def _done(actual, target):
    return None if not target else actual * 100 / target


def bonus_points(collected, target):
    """Whole percentage points of the money collected target reached above 100 %."""
    if not target or collected <= target:
        return 0
    return collected * 100 // target - 100


@reads_reports
def gather(user, month, marketers):
    """Plain data: {"month", "period", "rows", "total", "run", "rules"}; a row per marketer
    (in the order given) with their figures, commission, bonus, deduction and total."""
    end = tg.period_end("month", month)
    params = Params(user, month, end)
    ids = [m.id for m in marketers]
    values = performance.figures(params, ids, now_figures=False)
    set_ = tg.targets_of("marketer", ids, "month", month)
    run = cm.run_of(month)
    commission = cm.totals(run, ids) if run is not None else {}
    per_point = get_setting("commission.bonus_per_point_yuan") * 100
    per_overdue = get_setting("commission.deduction_per_overdue_yuan") * 100
    departments = {d.id: d.name for d in db.session.scalars(db.select(Department))}
    rows = []
    for marketer in marketers:
        got, targets = values[marketer.id], set_.get(marketer.id, {})
        figures = {key: {"actual": got.get(key, 0), "target": targets.get(key),
                         "done": _done(got.get(key, 0), targets.get(key)),
                         "money": key in tg.MONEY} for key in tg.FIGURES}
        points = bonus_points(got["collections"], targets.get("collections"))
        overdue = got["callbacks_overdue"]
        earned = commission.get(marketer.id, {}).get("total", 0) if run is not None else None
        row = {"id": marketer.id, "name": marketer.display_name,
               "department": departments.get(marketer.department_id, _("No department")),
               "figures": figures, "commission": earned, "points": points,
               "bonus": points * per_point, "overdue": overdue,
               "deduction": overdue * per_overdue}
        row["total"] = (earned or 0) + row["bonus"] - row["deduction"]
        rows.append(row)
    keys = ("commission", "bonus", "deduction", "total")
    return {"month": month, "label": cm.month_label(month),
            "period": f"{month.isoformat()} — {end.isoformat()}",
            "title": _("Monthly assessment"), "figures": {k: str(v) for k, v in
                                                          tg.FIGURES.items()},
            "money": sorted(tg.MONEY), "rows": rows,
            "total": {key: sum(r[key] or 0 for r in rows) for key in keys},
            "run": None if run is None else {"status": run.status, "locked": run.is_locked},
            "rules": {"per_point": per_point, "per_overdue": per_overdue}}


def xlsx_rows(data):
    """(headers, rows) of the assessment as a table: money in yuan, done in percent."""
    headers = [_("Department"), _("Marketer")]
    target, actual, done = _("Target"), _("Actual"), _("Done %")
    for label in data["figures"].values():
        headers += [f"{label} · {target}", f"{label} · {actual}", f"{label} · {done}"]
    headers += [_("Commission"), _("Bonus"), _("Deduction"), _("Total")]

    def money(value, is_money=True):
        return None if value is None else (round(value / 100, 2) if is_money else value)
    rows = []
    for row in data["rows"]:
        cells = [row["department"], row["name"]]
        for key in data["figures"]:
            figure = row["figures"][key]
            cells += [money(figure["target"], figure["money"]),
                      money(figure["actual"], figure["money"]),
                      None if figure["done"] is None else round(figure["done"], 1)]
        cells += [money(row["commission"]), money(row["bonus"]), money(row["deduction"]),
                  money(row["total"])]
        rows.append(cells)
    return headers, rows


def build(data, *, printed_by):
    """The 考核表 as A4 PDF bytes."""
    return render_pdf("print/assessment.html", {**data, "printed_by": printed_by,
                                                "printed_at": utcnow(), "fen": fen})
