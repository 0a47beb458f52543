"""Targets (目标): the progress page of a department (each marketer's figures beside their
targets, the pace and the rank) or of all departments, and the forms that set them."""
from datetime import timedelta

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user
from wtforms import HiddenField, SelectField
from wtforms.validators import NumberRange, Optional

from blueprints.access import role_required
from blueprints.forms import BaseForm, IntegerField, MoneyField, attempt, error_text, id_arg, \
    to_fen, yuan
from blueprints.reports.routes import bp
from extensions import db
from formatting import local_day, parse_day
from models import targets as tg
from models.accounts import Department, User
from models.base import InvalidInput, NotFound, utcnow
from models.scoping import visible_departments
from reports import targets as progress

VIEW = ("admin", "manager", "finance", "dept_head", "marketer")
SET = ("admin", "manager", "dept_head")


class PeriodForm(BaseForm):
    period = HiddenField()
    start = HiddenField()


class TargetsForm(PeriodForm):
    """One subject's seven targets: counts, and the two money figures in yuan. Empty clears."""


for _key in tg.FIGURES:
    setattr(TargetsForm, _key, MoneyField(tg.FIGURES[_key], maximum=100_000_000)
            if _key in tg.MONEY else IntegerField(tg.FIGURES[_key], validators=[
                Optional(), NumberRange(0, tg.MAX_VALUE, _l("A target cannot be below zero."))]))


def _period():
    """(period, start) from the query string: this month by default; a bad day is refused."""
    period = request.values.get("period") or "month"
    if period not in tg.PERIODS:
        raise InvalidInput(_("Choose a month or a week."), field="period")
    try:
        day = parse_day(request.values.get("start"), _("Start")) or local_day(utcnow())
    except ValueError as exc:
        raise InvalidInput(str(exc), field="start") from None
    return period, tg.period_start(period, day)


def _department():
    """The department the page is about: the one asked for (within the user's scope), else a
    head's own; None for the all-departments view."""
    department_id = id_arg("department")
    if department_id is None:
        if current_user.has_role("dept_head") and not current_user.has_role(*tg.SETTERS) and \
                current_user.department_id is not None:
            return db.session.get(Department, current_user.department_id)
        return None
    department = db.session.scalar(visible_departments(current_user).where(
        Department.id == department_id))
    if department is None:
        raise NotFound(_("Not found, or not yours to see."))
    return department


@bp.get("/targets")
@role_required(*VIEW)
def targets():
    try:
        period, start = _period()
    except InvalidInput as exc:
        flash(exc.message, "danger")
        return redirect(url_for("reports.targets"))
    today = local_day(utcnow())
    end = tg.period_end(period, start)
    department = None if current_user.has_role("marketer") and not current_user.has_role(
        *SET, "finance") else _department()
    if department is not None:
        data = progress.marketers_progress(current_user, period, start,
                                           tg.marketers_of(department.id), today)
        departments = None
    elif current_user.has_role(*SET, "finance"):
        departments = db.session.scalars(visible_departments(current_user)).all()
        data = progress.department_progress(current_user, period, start, departments, today)
    else:  # a marketer: their own row
        data = progress.marketers_progress(current_user, period, start, [current_user], today)
        departments = None
    editable = {row["id"] for row in data["rows"] if departments is None and tg.may_set(
        current_user, "marketer", db.session.get(User, row["id"]))}
    return render_template("reports/targets.html", data=data, period=period, start=start,
                           editable=editable,
                           sets_departments=current_user.has_role(*tg.SETTERS),
                           end=end, department=department, departments=departments,
                           figures=tg.FIGURES, periods=tg.PERIODS, form=PeriodForm(),
                           previous=tg.previous_start(period, start),
                           following=end + timedelta(days=1), pace_line=progress.pace_line,
                           may_set=current_user.has_role(*SET))


def _subject():
    scope = request.values.get("scope")
    return scope, tg.subject_or_404(scope, id_arg("subject"), current_user, to_set=True)


@bp.route("/targets/edit", methods=["GET", "POST"])
@role_required(*SET)
def edit_targets():
    scope, subject = _subject()
    try:
        period, start = _period()
    except InvalidInput as exc:
        flash(exc.message, "danger")
        return redirect(url_for("reports.targets"))
    current = tg.targets_of(scope, [subject.id], period, start).get(subject.id, {})
    form = TargetsForm(data={"period": period, "start": start.isoformat(),
                             **{k: yuan(v) if k in tg.MONEY else v
                                for k, v in current.items()}})
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            values = {key: to_fen(getattr(form, key).data) if key in tg.MONEY
                      else getattr(form, key).data for key in tg.FIGURES}
            with attempt(form) as tried:
                tg.set_targets(scope, subject, period, start, values, actor=current_user)
            if not tried.refusal:
                flash(_("Targets saved."), "success")
                department = subject.department_id if scope == "marketer" else None
                return redirect(url_for("reports.targets", period=period,
                                        start=start.isoformat(), department=department))
            status = tried.status
        else:
            status = 422
    return render_template("reports/targets_edit.html", form=form, scope=scope,
                           subject=subject, period=period, start=start,
                           end=tg.period_end(period, start), periods=tg.PERIODS,
                           figures=tg.FIGURES, money=tg.MONEY), status


def _department_action(operation, done):
    form = PeriodForm()
    department = _department()
    if department is None:
        raise NotFound(_("Not found, or not yours to see."))
    if not form.validate_on_submit():  # a page left open too long (its token expired) …
        flash(error_text(form), "danger")
        return redirect(url_for("reports.targets", department=department.id))
    try:
        period, start = _period()
    except InvalidInput as exc:
        flash(exc.message, "danger")
        return redirect(url_for("reports.targets"))
    with attempt(flash=True) as tried:
        result = operation(department, period, start, actor=current_user)
    if not tried.refusal:
        flash(done(result), "success")
    return redirect(url_for("reports.targets", period=period, start=start.isoformat(),
                            department=department.id))


@bp.post("/targets/copy")
@role_required(*SET)
def copy_targets():
    return _department_action(tg.copy_previous,
                              lambda n: _("%(n)s targets copied from the period before.", n=n))


@bp.post("/targets/spread")
@role_required(*SET)
def spread_targets():
    return _department_action(tg.spread,
                              lambda shares: _("The department's targets were shared evenly; "
                                               "adjust any marketer's below."))
