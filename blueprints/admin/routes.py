"""Administration: users, departments, settings, the audit log."""
from datetime import datetime, time, timedelta

from flask import (Blueprint, abort, flash, redirect, render_template, request,
                   url_for)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import or_, select

from blueprints.access import role_required
from blueprints.files import file_name, send_download
from blueprints.forms import attempt, choices, paginate, run_operation
from blueprints.admin.forms import (AuditFilterForm, ConfirmForm, DepartmentForm, NewUserForm,
                                    ResetPasswordForm, UserFilterForm, UserForm, field_name,
                                    settings_form)
from extensions import db
from jobs import sending
from formatting import company_zone, national_phone
from models import accounts, settings
from models.accounts import Department, User, UserRole
from models.audit import ACTIONS, find_audit_entries
from models.base import utcnow
from models.scoping import visible_users
from reports import audit_log

bp = Blueprint("admin", __name__, url_prefix="/admin")

PER_PAGE = 50


def _department(department_id):
    if not department_id:
        return None
    department = db.session.get(Department, department_id)
    if department is None:
        abort(404)
    return department


def _user_or_404(user_id):
    user = db.session.scalar(visible_users(current_user).where(User.id == user_id))
    if user is None:
        abort(404)
    return user


# --- Users -------------------------------------------------------------------------------------

@bp.get("/users")
@role_required("admin")
def users():
    form = UserFilterForm(request.args)
    form.validate()
    query = visible_users(current_user).order_by(User.is_active.desc(), User.username)
    if form.q.data:
        like = form.q.data
        query = query.where(or_(User.username.icontains(like, autoescape=True),
                                User.display_name.icontains(like, autoescape=True),
                                User.phone.contains(like, autoescape=True)))
    if form.department_id.data:
        query = query.where(User.department_id == form.department_id.data)
    if form.role.data in accounts.ROLES:
        query = query.where(User.id.in_(select(UserRole.user_id)
                                        .where(UserRole.role == form.role.data)))
    if (form.status.data or "active") != "all":
        query = query.where(User.is_active.is_((form.status.data or "active") == "active"))
    page = paginate(query, PER_PAGE)
    return render_template("admin/users.html", form=form, page=page)


@bp.route("/users/new", methods=["GET", "POST"])
@role_required("admin")
def new_user():
    form = NewUserForm()
    if not form.validate_on_submit():
        return render_template("admin/user_new.html", form=form), _status(form)
    with attempt(form) as tried:
        user = accounts.create_user(
            username=form.username.data, display_name=form.display_name.data,
            password=form.password.data, roles=form.roles.data, phone=form.phone.data,
            department=_department(form.department_id.data), actor=current_user)
    if tried.refusal:
        return render_template("admin/user_new.html", form=form), tried.status
    flash(_("User %(name)s created.", name=user.display_name), "success")
    return redirect(url_for("admin.user", user_id=user.id))


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@role_required("admin")
def user(user_id):
    target = _user_or_404(user_id)
    form = UserForm(obj=target) if request.method == "POST" else _user_form(target)
    if not form.validate_on_submit():
        return _user_page(target, form), _status(form)
    with attempt(form) as tried:
        accounts.update_user(target, display_name=form.display_name.data, phone=form.phone.data,
                             department=_department(form.department_id.data),
                             roles=form.roles.data, actor=current_user)
    if tried.refusal:
        return _user_page(target, form), tried.status
    flash(_("Changes to %(name)s saved.", name=target.display_name), "success")
    return redirect(url_for("admin.user", user_id=target.id))


def _user_form(target):
    """The profile form filled from the user as it is (phone shown as typed, not stored)."""
    form = UserForm(obj=target, formdata=None)
    form.phone.data = national_phone(target.phone)
    form.department_id.data = target.department_id or 0
    return form


def _user_page(target, form, reset_form=None):
    return render_template("admin/user.html", target=target, form=form,
                           reset_form=reset_form or ResetPasswordForm(prefix="reset"),
                           confirm_form=ConfirmForm())


@bp.post("/users/<int:user_id>/password")
@role_required("admin")
def reset_password(user_id):
    target = _user_or_404(user_id)
    reset_form = ResetPasswordForm(prefix="reset")
    form = _user_form(target)
    if not reset_form.validate_on_submit():
        return _user_page(target, form, reset_form), 422
    with attempt() as tried:
        accounts.reset_password(target, reset_form.new_password.data, actor=current_user)
    if tried.refusal:
        tried.refusal.field = "new_password"
        reset_form.add_error(tried.refusal)
        return _user_page(target, form, reset_form), tried.status
    flash(_("The password of %(name)s has been reset. Tell them the new one in person.",
            name=target.display_name), "success")
    return redirect(url_for("admin.user", user_id=target.id))


def _user_action(user_id, operation, success):
    """Run a one-button operation on a user, flash `success(user)` or the refusal, go back."""
    target = _user_or_404(user_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    run_operation(lambda: operation(target, actor=current_user), lambda _result: success(target))
    return redirect(url_for("admin.user", user_id=user_id))


@bp.post("/users/<int:user_id>/deactivate")
@role_required("admin")
def deactivate_user(user_id):
    return _user_action(user_id, accounts.deactivate_user, lambda target: _(
        "%(name)s has been deactivated and can no longer sign in. Their records stay.",
        name=target.display_name))


@bp.post("/users/<int:user_id>/reactivate")
@role_required("admin")
def reactivate_user(user_id):
    return _user_action(user_id, accounts.reactivate_user, lambda target: _(
        "%(name)s can sign in again.", name=target.display_name))


@bp.post("/users/<int:user_id>/unlock")
@role_required("admin")
def unlock_user(user_id):
    return _user_action(user_id, accounts.unlock_user, lambda target: _(
        "%(name)s has been unlocked.", name=target.display_name))


# --- Departments -------------------------------------------------------------------------------

@bp.route("/departments", methods=["GET", "POST"])
@role_required("admin")
def departments():
    form = DepartmentForm()
    if not form.validate_on_submit():
        return _departments_page(form), _status(form)
    with attempt(form) as tried:
        department = accounts.create_department(form.name.data,
                                                parent=_department(form.parent_id.data),
                                                actor=current_user)
    if tried.refusal:
        return _departments_page(form), tried.status
    flash(_("Department %(name)s created.", name=department.path), "success")
    return redirect(url_for("admin.departments"))


def _departments_page(form):
    counts = dict(db.session.execute(
        select(User.department_id, db.func.count(User.id)).where(User.is_active)
        .group_by(User.department_id)).all())
    return render_template("admin/departments.html", form=form,
                           departments=accounts.all_departments(), counts=counts)


@bp.route("/departments/<int:department_id>", methods=["GET", "POST"])
@role_required("admin")
def department(department_id):
    target = _department(department_id)
    form = DepartmentForm(obj=target, data=None if request.method == "POST" else {
        "parent_id": target.parent_id or 0})
    if not form.validate_on_submit():
        return render_template("admin/department.html", target=target, form=form), \
            _status(form)
    with attempt(form) as tried:
        accounts.update_department(target, name=form.name.data,
                                   parent=_department(form.parent_id.data),
                                   is_active=form.is_active.data, actor=current_user)
    if tried.refusal:
        return render_template("admin/department.html", target=target, form=form), \
            tried.status
    flash(_("Department %(name)s saved.", name=target.path), "success")
    return redirect(url_for("admin.departments"))


# --- Settings ----------------------------------------------------------------------------------

@bp.route("/settings", methods=["GET", "POST"], endpoint="settings")
@role_required("admin")
def settings_page():
    definitions = settings.DEFINITIONS
    form = settings_form(definitions, {k: settings.get_setting(k) for k in definitions})
    if not form.validate_on_submit():
        return _settings_page(form), _status(form)
    values = {key: form[field_name(key)].data for key in definitions}
    with attempt() as tried:
        changed = settings.update_settings(values, actor=current_user)
    if tried.refusal:
        exc = tried.refusal
        exc.field = field_name(exc.field) if exc.field else None
        form.add_error(exc)
        return _settings_page(form), tried.status
    flash(_("Settings saved.") if changed else _("Nothing was changed."),
          "success" if changed else "info")
    return redirect(url_for("admin.settings"))


def _settings_page(form):
    groups = {}
    for key, definition in settings.DEFINITIONS.items():
        groups.setdefault(definition.area, []).append(form[field_name(key)])
    return render_template("admin/settings.html", form=form, groups=groups,
                           areas=settings.AREAS, problems={"messages": sending.provider_problem()})


# --- Audit log ---------------------------------------------------------------------------------

@bp.get("/audit")
@role_required("admin", "manager")
def audit():
    form, params = _audit_filters()
    page = paginate(find_audit_entries(**params), PER_PAGE)
    return render_template("admin/audit.html", form=form, page=page)


@bp.get("/audit.pdf")
@role_required("admin", "manager")
def audit_pdf():
    form, params = _audit_filters()
    data = audit_log.gather(audit_log.Params(
        printed_by=current_user.display_name, printed_at=utcnow(),
        first_day=form.start.data if not form.start.errors else None,
        last_day=form.end.data if not form.end.errors else None, **params))
    pdf = audit_log.build(data, title=_("Audit log"))
    return send_download(pdf, file_name(_("Audit log"), f"{utcnow():%Y%m%d-%H%M}", ext=".pdf"))


def _audit_filters():
    """The audit filter form from the query string, and the find_audit_entries() arguments.
    A value that does not parse (a bad date) is ignored and shown as an error on the form."""
    form = AuditFilterForm(request.args)
    form.actor_id.choices = choices([(0, _("Anyone"))] + [
        (u.id, f"{u.display_name} ({u.username})")
        for u in db.session.scalars(select(User).order_by(User.username))])
    form.action.choices = choices([("", _("Any action")), *ACTIONS.items()])
    form.validate()
    zone = company_zone()

    def day_start(day):
        return datetime.combine(day, time.min, tzinfo=zone) if day else None
    params = {
        "actor_id": form.actor_id.data if not form.actor_id.errors and form.actor_id.data
        and form.actor_id.data < 2**31 else None,
        "action": form.action.data if form.action.data in ACTIONS else None,
        "target_type": form.target_type.data or None,
        "target_id": form.target_id.data if not form.target_id.errors else None,
        "start": day_start(form.start.data) if not form.start.errors else None,
        "end": day_start(form.end.data + timedelta(days=1))
        if form.end.data and not form.end.errors else None,
        "text": form.text.data or None,
    }
    return form, params


def _status(form):
    """200 for a form shown for the first time, 422 for one sent back with errors."""
    return 422 if form.is_submitted() else 200
