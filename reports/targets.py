"""How far targets are reached (目标完成): for a month or a week, each marketer's (or
department's) actual figures beside their targets.

- actual: the performance report's figure of the same key for the same period (reports/
  performance.py defines each: contacts logged, invitations made, of those confirmed, arrivals
  of guests they invited, sales net of returns, money collected net of reversals, new customers
  registered to them). A department's actual is the sum over its active marketers (its
  departments below included).
- done (完成率): actual ÷ target in percent; none without a target (or a target of 0).
- pace (时间进度): the share of the period gone by at the end of today, in percent — "本月已过
  40 %，回款完成 35 %" reads pace beside done; behind means done < pace.
- rank: within the department, by done of the money collected target (回款完成率), then by
  money collected; marketers without that target come last, by money collected.
"""
from flask_babel import gettext as _

from models import targets as tg
from models.accounts import Department
from extensions import db
from reports import performance
from reports.params import Params


def _done(actual, target):
    return None if not target else actual * 100 / target


def _rows(values, set_, ids):
    return {i: {figure: {"actual": values.get(i, {}).get(figure, 0),
                         "target": set_.get(i, {}).get(figure),
                         "done": _done(values.get(i, {}).get(figure, 0),
                                       set_.get(i, {}).get(figure)),
                         "money": figure in tg.MONEY}
                for figure in tg.FIGURES} for i in ids}


def actuals(user, period, start, marketer_ids):
    """{marketer id: {figure: actual}} for the period (the performance figures)."""
    params = Params(user, start, tg.period_end(period, start))
    return performance.figures(params, marketer_ids, now_figures=False)


def marketers_progress(user, period, start, marketers, today):
    """[{"id", "name", "figures": {figure: {actual, target, done, money}}, "rank", "of"}] for
    the marketers (of one department: the rank is among them), and the pace."""
    ids = [m.id for m in marketers]
    values = actuals(user, period, start, ids)
    progress = _rows(values, tg.targets_of("marketer", ids, period, start), ids)

    def order(marketer):
        money = progress[marketer.id]["collections"]
        return (money["done"] is None, -(money["done"] or 0), -money["actual"],
                marketer.display_name)
    ranked = sorted(marketers, key=order)
    rows = [{"id": m.id, "name": m.display_name, "figures": progress[m.id],
             "rank": ranked.index(m) + 1, "of": len(marketers)} for m in ranked]
    return {"rows": rows, "pace": tg.elapsed(period, start, today) * 100}


def department_progress(user, period, start, departments, today):
    """[{"id", "name", "figures": {...}}] — each department's targets beside the sum of its
    marketers' actual figures."""
    rows = []
    set_ = tg.targets_of("department", [d.id for d in departments], period, start)
    for department in departments:
        people = tg.marketers_of(department.id)
        values = actuals(user, period, start, [m.id for m in people])
        total = {figure: sum(values[m.id].get(figure, 0) for m in people)
                 for figure in tg.FIGURES}
        rows.append({"id": department.id, "name": department.name, "marketers": len(people),
                     "figures": _rows({department.id: total}, set_, [department.id])[
                         department.id]})
    return {"rows": rows, "pace": tg.elapsed(period, start, today) * 100}


def pace_line(period, figure_row, pace):
    """"本月已过 40 %，回款完成 35 %" for one marketer's money collected."""
    money = figure_row["collections"]
    gone = _("%(pct).0f %% of the month gone", pct=pace) if period == "month" else \
        _("%(pct).0f %% of the week gone", pct=pace)
    if money["done"] is None:
        return gone
    return _("%(gone)s, %(done).0f %% of the money collected target reached", gone=gone,
             done=money["done"])


def department_named(department_id):
    return db.session.get(Department, department_id)
