"""Worklists: "Today" for a marketer (overdue, due today, coming — done in at most three taps;
the WeChat messages to send from their phone, copied with one tap and marked sent),
completion and overdue counts per marketer for department heads and managers (who hand tasks
over), the birthday care list (printable), and the log of the nightly jobs for admins."""
from datetime import timedelta

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from blueprints.access import role_required, safe_next
from blueprints.files import file_name, send_download
from blueprints.forms import BaseForm, attempt, error_text, id_arg, refusal_status
from blueprints.tasks.forms import (CONTACT_KINDS, DoneForm, DoNotCallForm, ReassignForm,
                                    SkipForm, WechatSentForm)
from extensions import db
from formatting import local_day, parse_day
from models import customers as c, messages as msg, targets as tg, tasks as t
from models.accounts import User
from models.base import InvalidInput, NotFound, PermissionDenied, utcnow
from models.scoping import can_see_full_phone, visible_users
from reports import care_list as care_report, targets as progress

bp = Blueprint("tasks", __name__, url_prefix="/tasks")

WORKERS = ("marketer", "dept_head", "manager")
SUPERVISORS = ("dept_head", "manager")


def _today():
    return local_day(utcnow())


def _assignee():
    """Whose list: the user's own, or (for a supervisor) a marketer they may see."""
    assignee_id = id_arg("assignee")
    if assignee_id is not None and assignee_id != current_user.id:
        if not current_user.has_role(*SUPERVISORS):
            raise NotFound(_("Not found, or not yours to see."))
        user = db.session.scalar(visible_users(current_user).where(User.id == assignee_id))
        if user is None:
            raise NotFound(_("Not found, or not yours to see."))
        return user
    return current_user


@bp.get("/")
@role_required(*WORKERS)
def today():
    assignee = _assignee()
    # A supervisor starts on the team page; their own list (large-order confirmation calls)
    # opens from their row there.
    if assignee is current_user and not current_user.has_role("marketer") and \
            "assignee" not in request.args:
        return redirect(url_for("tasks.team"))
    day = _today()
    kind = request.args.get("kind") if request.args.get("kind") in t.KINDS else None
    section = request.args.get("section") if request.args.get("section") in t.SECTIONS \
        else None
    worklist = t.today_list(assignee.id, day, kind=kind, section=section if kind else None)
    marketers = db.session.scalars(visible_users(current_user).where(User.is_active.is_(True))
                                   .order_by(User.display_name)).all() \
        if current_user.has_role(*SUPERVISORS) else []
    month = tg.period_start("month", day)
    # WeChat goes from the user's own phone: only on their own list.
    wechat = msg.wechat_to_send(current_user) if assignee is current_user else []
    targets = progress.marketers_progress(current_user, "month", month, [assignee], day) \
        if tg.targets_of("marketer", [assignee.id], "month", month) else None
    return render_template("tasks/today.html", worklist=worklist, today=day, assignee=assignee,
                           targets=targets, target_figures=tg.FIGURES,
                           pace_line=progress.pace_line,
                           kind=kind, section=section,
                           form=BaseForm(), kinds=t.KINDS, quick_notes=t.QUICK_NOTES,
                           intents=c.INTENTS,
                           marketers=[m for m in marketers if m.has_role("marketer")],
                           full_phone=_full_phone_check(),
                           wechat=wechat, cards=msg.invitation_cards_of(wechat),
                           now=utcnow())


def _task(task_id):
    if task_id >= 2**31:
        raise NotFound(_("Not found, or not yours to see."))
    return t.get_task_or_404(task_id, current_user)


def _card(task, error=None, status=200):
    return render_template("tasks/_card.html", task=task, today=_today(), form=BaseForm(),
                           quick_notes=t.QUICK_NOTES, intents=c.INTENTS, error=error,
                           open_form=error is not None,
                           full_phone=_full_phone_check()), status


def _full_phone_check():
    """full_phone(task): may the user see (and so call) the customer's number? Answered once
    per owner and department on a page, not once per card."""
    seen = {}

    def full_phone(task):
        key = (task.customer.owner_id, task.customer.department_id)
        if key not in seen:
            seen[key] = can_see_full_phone(current_user, owner_id=key[0], department_id=key[1])
        return seen[key]
    return full_phone


def _answer(task, message):
    """htmx: the card in its new state; a plain form post: back to the list."""
    if request.headers.get("HX-Request"):
        return _card(task)
    flash(message, "success")
    return redirect(safe_next(request.form.get("next"), url_for("tasks.today")))


@bp.get("/<int:task_id>/done")
@role_required(*WORKERS)
def done_form(task_id):
    """The "done" form under a card (htmx), so the list itself stays light."""
    task = _task(task_id)
    return render_template("tasks/_done_form.html", task=task, quick_notes=t.QUICK_NOTES,
                           intents=c.INTENTS, today=_today())


@bp.post("/<int:task_id>/done")
@role_required(*WORKERS)
def done(task_id):
    task = _task(task_id)
    form = DoneForm()
    if not form.validate_on_submit():
        return _card(task, error_text(form), refusal_status(form))
    kind = form.kind.data or "call"
    with attempt() as tried:
        if kind not in CONTACT_KINDS:
            raise InvalidInput(_("Choose how you contacted the customer."), field="kind")
        intent = c.check_intent(form.intent.data) if form.intent.data else None
        done = t.complete_task(task, note=form.note.data or form.note_text.data or "",
                               kind=kind, actor=current_user,
                               outcome=form.outcome.data or "reached",
                               early_reason=form.early_reason.data or "")
        if intent and done.contact_log_id:
            c.record_intent(done.customer, intent, source="contact", actor=current_user,
                            contact_log=db.session.get(c.ContactLog, done.contact_log_id))
    if tried.refusal:
        return _card(_task(task_id), tried.refusal.message, tried.status)
    return _answer(task, _("Done: %(name)s.", name=task.customer.name))


@bp.post("/<int:task_id>/do-not-call")
@role_required(*WORKERS)
def do_not_call(task_id):
    """After a refusal (拒绝): one tap sets the customer's 勿扰 (do not call)."""
    task = _task(task_id)
    form = DoNotCallForm()
    if not form.validate_on_submit():
        return _card(task, error_text(form), refusal_status(form))
    with attempt() as tried:
        if not t.may_work_on(task, current_user):
            raise PermissionDenied(_("This task is not yours."))
        c.mark_do_not_call(task.customer, actor=current_user)
    if tried.refusal:
        return _card(_task(task_id), tried.refusal.message, tried.status)
    return _answer(task, _("%(name)s will not be called again.", name=task.customer.name))


@bp.post("/<int:task_id>/skip")
@role_required(*WORKERS)
def skip(task_id):
    task = _task(task_id)
    form = SkipForm()
    if not form.validate_on_submit():
        return _card(task, error_text(form), refusal_status(form))
    with attempt() as tried:
        t.skip_task(task, reason=form.reason.data or "", actor=current_user)
    if tried.refusal:
        return _card(_task(task_id), tried.refusal.message, tried.status)
    return _answer(task, _("Skipped: %(name)s.", name=task.customer.name))


@bp.post("/wechat/<int:message_id>/sent")
@role_required(*WORKERS)
def wechat_sent(message_id):
    """已发送: the WeChat message was copied and sent from the marketer's phone (idempotent)."""
    if message_id >= 2**31:
        raise NotFound(_("Not found, or not yours to see."))
    message = msg.get_wechat_message_or_404(message_id, current_user)
    form = WechatSentForm()
    error = None
    if not form.validate_on_submit():
        error, status = error_text(form), refusal_status(form)
    else:
        with attempt() as tried:
            msg.mark_copied_sent(message, actor=current_user)
        if tried.refusal:
            error, status = tried.refusal.message, tried.status
    if request.headers.get("HX-Request"):
        return render_template("tasks/_wechat.html", message=message, error=error,
                               cards=msg.invitation_cards_of([message]),
                               now=utcnow()), status if error else 200
    if error:
        flash(error, "danger")
    else:
        flash(_("Sent on WeChat: %(name)s.", name=message.customer.name), "success")
    return redirect(url_for("tasks.today"))


@bp.get("/team")
@role_required(*SUPERVISORS)
def team():
    day = _today()
    return render_template("tasks/team.html", figures=t.team_figures(current_user, day),
                           today=day)


@bp.post("/reassign")
@role_required(*SUPERVISORS)
def reassign():
    back = safe_next(request.form.get("next"), url_for("tasks.team"))
    form = ReassignForm()
    if not form.validate_on_submit():
        flash(error_text(form), "danger")
        return redirect(back)
    to_user = db.session.scalar(visible_users(current_user).where(
        User.id == form.to_user.data)) if form.to_user.data else None
    with attempt(flash=True) as tried:
        moved = t.reassign_tasks(form.task_ids.data, to_user, actor=current_user)
    if tried.refusal:
        return redirect(back)
    flash(_("%(n)s tasks handed to %(name)s.", n=moved, name=to_user.display_name), "success")
    return redirect(back)


def _care_params():
    """(start, end, marketer or None, errors) from the query string; default the next 7 days."""
    today = _today()
    errors = []
    values = {}
    for key, default in (("start", today), ("end", today + timedelta(days=6))):
        try:
            values[key] = parse_day(request.args.get(key)) or default
        except ValueError as exc:
            errors.append(str(exc))
            values[key] = default
    if values["end"] < values["start"]:
        errors.append(_("The end date is before the start date."))
        values["end"] = values["start"]
    if (values["end"] - values["start"]).days > 62:
        errors.append(_("Choose at most two months."))
        values["end"] = values["start"] + timedelta(days=62)
    marketer = None
    if (marketer_id := id_arg("marketer")) is not None:
        marketer = db.session.scalar(visible_users(current_user).where(User.id == marketer_id))
    return values["start"], values["end"], marketer, errors


def _care_rows(start, end, marketer):
    customers = c.visible_customers(current_user).where(c.Customer.owner_id.is_not(None))
    if marketer is not None:
        customers = customers.where(c.Customer.owner_id == marketer.id)
    return c.care_list(start, end, customers=customers)


@bp.get("/birthdays")
@role_required(*WORKERS)
def birthdays():
    start, end, marketer, errors = _care_params()
    marketers = db.session.scalars(visible_users(current_user).where(User.is_active.is_(True))
                                   .order_by(User.display_name)).all()
    return render_template("tasks/birthdays.html", rows=_care_rows(start, end, marketer),
                           start=start, end=end, marketer=marketer, errors=errors,
                           marketers=[m for m in marketers if m.has_role("marketer")],
                           lunar_label=c.lunar_label), 422 if errors else 200


@bp.get("/birthdays.pdf")
@role_required(*WORKERS)
def birthdays_pdf():
    start, end, marketer, errors = _care_params()
    if errors:
        flash(" ".join(errors), "danger")
        return redirect(url_for("tasks.birthdays"))
    pdf = care_report.build(care_report.gather(
        _care_rows(start, end, marketer), start=start, end=end, marketer=marketer,
        printed_by=current_user.display_name))
    return send_download(pdf, file_name(_("Birthday care"), start, end, ext=".pdf"))


@bp.get("/jobs")
@role_required("admin")
def job_runs():
    import jobs
    return render_template("tasks/jobs.html", runs=jobs.last_runs(), jobs=jobs.JOBS)
