"""Commission (提成, #27 §2) on screen: a month's run — each marketer's commission, computed by a
manager or finance, approved by finance and then locked —, the lines behind each marketer's
figures, and the rules a manager edits (报表 → 提成规则)."""
from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from wtforms import HiddenField, StringField
from wtforms.validators import DataRequired, NumberRange, Optional

from blueprints.access import role_required
from blueprints.forms import BaseForm, IntegerField, attempt, error_text, id_arg
from blueprints.reports.routes import bp
from extensions import db
from formatting import local_day
from models import commission as cm
from models.accounts import Department, User
from models.base import InvalidInput, utcnow
from models.inventory import ProductCategory
from models.orders import PAYMENT_KINDS, Package
from models.settings import get_setting

VIEW = ("admin", "manager", "finance", "dept_head", "marketer")


class MonthForm(BaseForm):
    """The month a button acts on."""
    month = HiddenField(validators=[DataRequired(_l("Choose a month."))])


def _today():
    return local_day(utcnow())


def _month():
    """The month of the query string (this month when absent); None (flashed) when it is not
    a month."""
    try:
        return cm.parse_month(request.args.get("month"), _today())
    except InvalidInput as exc:
        flash(exc.message, "danger")
        return None


def rows_of(run, user):
    """One row per marketer `user` may see: the active marketers, and anyone else in scope who
    earns in the run (a developer who has left, say). Plain dicts, by department and name."""
    marketers = {m.id: m for m in cm.marketers_seen(user)}
    totals = cm.totals(run) if run is not None else {}
    others = [i for i in totals if i not in marketers]
    if others:
        marketers.update({u.id: u for u in db.session.scalars(select(User).where(
            User.id.in_(others), cm.marketer_clause(user)))})
    departments = {d.id: d.name for d in db.session.scalars(select(Department))}
    empty = {"sale": 0, "clawback": 0, "developer": 0, "returns": 0, "lines": 0, "total": 0}
    summary = run.summary if run is not None else {}
    rows = []
    for marketer in marketers.values():
        tier = summary.get(str(marketer.id), {})
        rows.append({"id": marketer.id, "name": marketer.display_name,
                     "department": departments.get(marketer.department_id, ""),
                     "target": tier.get("target"), "collected": tier.get("collected", 0),
                     "multiplier": tier.get("multiplier", 100),
                     **totals.get(marketer.id, empty)})
    rows.sort(key=lambda r: (r["department"], r["name"]))
    return rows


@bp.get("/commission")
@role_required(*VIEW)
def commission():
    month = _month()
    if month is None:
        return redirect(url_for("reports.commission"))
    run = cm.run_of(month)
    rows = rows_of(run, current_user)
    return render_template(
        "reports/commission.html", month=month, run=run, rows=rows,
        total={key: sum(r[key] for r in rows) for key in ("sale", "clawback", "developer",
                                                          "returns", "total")},
        stale=cm.stale_reason(run) if run is not None and not run.is_locked else None,
        over=cm.next_month(month) <= _today(), form=MonthForm(),
        previous=cm.previous_month(month), following=cm.next_month(month),
        label=cm.month_label, rules=cm.current_rules() if run is None else run.rules,
        percent=cm.percent, statuses=cm.RUN_STATUSES)


def _act(operation, done):
    """A button of the month page: the operation on the month posted, then back to the page."""
    form = MonthForm()
    if not form.validate_on_submit():
        flash(error_text(form), "danger")
        return redirect(url_for("reports.commission"))
    month = None
    with attempt(flash=True) as tried:
        month = cm.parse_month(form.month.data, _today())
        result = operation(month, actor=current_user)
    if not tried.refusal:
        flash(done(result, month), "success")
    return redirect(url_for("reports.commission", month=cm.month_label(month) if month
                            else None))


@bp.post("/commission/compute")
@role_required(*cm.COMPUTE_ROLES)
def commission_compute():
    return _act(cm.compute_run, lambda run, month: _(
        "Commission of %(month)s computed: %(total)s in all.", month=cm.month_label(month),
        total=f"¥{run.total / 100:,.2f}"))


@bp.post("/commission/approve")
@role_required(*cm.APPROVE_ROLES)
def commission_approve():
    return _act(cm.approve_run, lambda run, month: _(
        "Commission of %(month)s approved and locked.", month=cm.month_label(month)))


@bp.post("/commission/discard")
@role_required(*cm.COMPUTE_ROLES)
def commission_discard():
    return _act(cm.discard_run, lambda run, month: _(
        "The draft of %(month)s was discarded.", month=cm.month_label(month)))


@bp.get("/commission/lines")
@role_required(*VIEW)
def commission_lines():
    """One marketer's lines of a month's run (a marketer's own by default)."""
    month = _month()
    if month is None:
        return redirect(url_for("reports.commission"))
    marketer_id = id_arg("marketer")
    if marketer_id is None and current_user.has_role("marketer"):
        marketer_id = current_user.id
    marketer = cm.marketer_or_404(marketer_id, current_user)
    run = cm.run_of(month)
    found = cm.lines_of(run, marketer.id) if run is not None else []
    return render_template("reports/commission_lines.html", month=month, run=run,
                           marketer=marketer, found=found,
                           totals=cm.totals(run, [marketer.id]).get(marketer.id)
                           if run is not None else None,
                           kinds={**PAYMENT_KINDS, "return": _("Return")},
                           roles=cm.LINE_ROLES, label=cm.month_label, percent=cm.percent,
                           statuses=cm.RUN_STATUSES)


# --- The rules ---------------------------------------------------------------------------------

class RulesForm(BaseForm):
    """The rules: rates typed in percent (two decimals at most), tiers as text, the developer's
    share, the assessment's bonus and deduction in yuan; a rate field per category and package
    is added per request (rules_form)."""
    default_rate = StringField(_l("Default rate (%)"), validators=[DataRequired(
        _l("Enter the default rate."))])
    tiers = StringField(_l("Tiers (attainment:multiplier, in %)"))
    developer_rate = StringField(_l("Developer's share (%)"), validators=[DataRequired(
        _l("Enter the developer's share (0 for none)."))])
    developer_months = IntegerField(_l("For months from registration"), validators=[
        Optional(), NumberRange(0, 120, _l("From 0 to 120 months."))])
    bonus_yuan = IntegerField(_l("Bonus per point of money collected above 100 % (yuan)"),
                              validators=[Optional(), NumberRange(0, 100_000, _l(
                                  "From ¥0 to ¥100,000."))])
    deduction_yuan = IntegerField(_l("Deduction per callback late or overdue (yuan)"),
                                  validators=[Optional(), NumberRange(0, 100_000, _l(
                                      "From ¥0 to ¥100,000."))])


def _subjects():
    """[(field name, (scope, id), label)] of the product categories and the packages."""
    found = [(f"category_{c.id}", ("category", c.id), c.name) for c in db.session.scalars(
        select(ProductCategory).order_by(ProductCategory.name))]
    found += [(f"package_{p.id}", ("package", p.id), p.name) for p in db.session.scalars(
        select(Package).where(Package.is_active.is_(True)).order_by(Package.name))]
    return found


def rules_form(subjects, data=None):
    form_class = type("RulesPageForm", (RulesForm,), {
        name: StringField(label) for name, _key, label in subjects})
    return form_class(data=data)


@bp.route("/commission/rules", methods=["GET", "POST"])
@role_required(*cm.RULE_EDITORS)
def commission_rules():
    subjects = _subjects()
    rules, table = cm.current_rules(), cm.rate_table()
    form = rules_form(subjects, data={
        "default_rate": cm.percent(rules["default_bp"]), "tiers": cm.tiers_text(rules["tiers"]),
        "developer_rate": cm.percent(rules["developer_bp"]),
        "developer_months": rules["developer_months"],
        "bonus_yuan": get_setting("commission.bonus_per_point_yuan"),
        "deduction_yuan": get_setting("commission.deduction_per_overdue_yuan"),
        **{name: cm.percent(table.get(key)) for name, key, _label in subjects}})
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate_on_submit():
            rates, typed = {}, {}
            for name in ("default_rate", "developer_rate", *(s[0] for s in subjects)):
                try:
                    typed[name] = cm.bp_of_percent(form[name].data)
                except InvalidInput as exc:
                    form[name].errors = [*form[name].errors, exc.message]
            if not any(form[name].errors for name in typed) and len(typed) == 2 + len(subjects):
                rates = {key: typed[name] for name, key, _label in subjects}
                with attempt(form) as tried:
                    changed = cm.save_rules(
                        default_bp=typed["default_rate"], tiers=form.tiers.data or "",
                        developer_bp=typed["developer_rate"],
                        developer_months=form.developer_months.data or 0,
                        bonus_yuan=form.bonus_yuan.data or 0,
                        deduction_yuan=form.deduction_yuan.data or 0, rates=rates,
                        labels={key: label for _name, key, label in subjects},
                        fields={key: name for name, key, _label in subjects},
                        actor=current_user)
                if not tried.refusal:
                    flash(_("Commission rules saved.") if changed else
                          _("Nothing was changed."), "success" if changed else "info")
                    return redirect(url_for("reports.commission_rules"))
                status = tried.status
    return render_template("reports/commission_rules.html", form=form, subjects=subjects), \
        status

