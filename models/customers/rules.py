"""The nightly rules over the customer archive: when a quiet customer goes to the public pool
(公海回收) and which grade (A/B/C/D) a customer has earned. The nightly jobs
(jobs/customers.py) gather the facts these rules judge — invitations, attendance, purchases,
held goods, open tasks — from the areas that record them. The settings (pool.*, grade.*) are
declared with the nightly run's (models/tasks/settings.py), where the settings page lists them.
"""
from datetime import timedelta

from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import select, update

from extensions import db
from formatting import fen
from models.base import among
from models.clock import day_start, local_day
from models.customers.tables import Customer
from models.settings import get_setting

__all__ = ["POOL_RULES", "apply_grades", "grade_of", "grade_reason", "grade_rule", "grades_since",
           "pool_days", "pool_reasons", "pool_rule", "reclaim_day"]

#: The pool rules, by what the customer has done with the company.
POOL_RULES = (("never_invited", _l("never invited")),
              ("never_attended", _l("invited but never came")),
              ("never_bought", _l("came but never bought")),
              ("bought", _l("has bought")))


def pool_days():
    """rule → days without a follow-up before an owned customer goes to the pool (settings)."""
    return {"never_invited": get_setting("pool.days_never_invited"),
            "never_attended": get_setting("pool.days_never_attended"),
            "never_bought": get_setting("pool.days_never_bought"),
            "bought": get_setting("customers.pool_days")}


def pool_rule(*, invited, attended, bought):
    """The rule a customer falls under: what they have done with the company so far."""
    if bought:
        return "bought"
    if attended:
        return "never_bought"
    return "never_attended" if invited else "never_invited"


def reclaim_day(idle_since, rule, days, zone=None):
    """The company day a customer quiet since `idle_since` goes to the pool under `rule`
    (`days`: pool_days())."""
    return local_day(idle_since, zone) + timedelta(days=days[rule])


def pool_reasons(days):
    """rule → why a customer goes to the pool, as the warning and the ownership change say."""
    return {rule: _("%(rule)s, no follow-up in %(n)s days", rule=label, n=days[rule])
            for rule, label in POOL_RULES}


def grades_since(day):
    """The moment the grading window (a setting) of a run for `day` starts."""
    return day_start(day - timedelta(days=get_setting("grade.window_days")))


def grade_rule():
    """The thresholds of the grades (settings), for grade_of: A at a_orders orders or a_money
    fen paid, B at b_orders orders, C at c_arrivals arrivals at events."""
    return {"a_orders": get_setting("grade.a_orders"),
            "a_money": get_setting("grade.a_money_yuan") * 100,
            "b_orders": get_setting("grade.b_orders"),
            "c_arrivals": get_setting("grade.c_arrivals")}


def grade_of(orders, paid, arrivals, rule):
    """A: bought often or much in the window; B: bought; C: came to events; D: none of these.
    `orders`, `paid` (fen), `arrivals`: the customer's in the grading window; `rule`:
    grade_rule()."""
    if orders and (orders >= rule["a_orders"] or (paid or 0) >= rule["a_money"]):
        return "A"
    if orders and orders >= rule["b_orders"]:
        return "B"
    return "C" if arrivals and arrivals >= rule["c_arrivals"] else "D"


def grade_reason(orders, paid, arrivals, rule):
    """Why grade_of gave its grade, in words: the customer's figures of the window and the
    threshold they reached (the customer page shows it)."""
    grade = grade_of(orders, paid, arrivals, rule)
    facts = _("In the last %(days)s days: %(orders)s orders, %(paid)s paid, %(arrivals)s "
              "events attended.", days=get_setting("grade.window_days"), orders=orders,
              paid=fen(paid or 0), arrivals=arrivals)
    why = {"A": _("Grade A from %(orders)s orders or %(money)s paid.",
                  orders=rule["a_orders"], money=fen(rule["a_money"])),
           "B": _("Grade B from %(orders)s orders.", orders=rule["b_orders"]),
           "C": _("Grade C from %(n)s events attended.", n=rule["c_arrivals"]),
           "D": _("Below every threshold: grade D.")}[grade]
    return grade, f"{facts} {why}"


def apply_grades(grade_for):
    """Write computed grades (`grade_for`: customer id → grade) of every customer but the
    merged; a manual grade wins until cleared. Returns the customers regraded. The current
    grades are read as plain rows (two million, without the ORM's per-row work: a re-run that
    changes nothing at two million customers took 14 s, half of it there)."""
    changed = {}
    for cid, grade in db.session.connection().execute(
            select(Customer.id, Customer.grade).where(Customer.grade_is_manual.is_(False),
                                                      Customer.status != "merged")):
        if (new := grade_for(cid)) != grade:
            changed.setdefault(new, []).append(cid)
    written = 0
    for grade, ids in changed.items():
        for start in range(0, len(ids), 5000):
            written += db.session.execute(
                update(Customer).where(among(Customer.id, ids[start:start + 5000]),
                                       Customer.grade_is_manual.is_(False))
                .values(grade=grade).execution_options(synchronize_session=False)).rowcount
    return written
