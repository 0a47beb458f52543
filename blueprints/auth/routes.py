"""Sign-in, sign-out, own password and language."""
from flask import (Blueprint, current_app, flash, redirect, render_template, request, session,
                   url_for)
from flask_babel import gettext as _, refresh
from flask_login import current_user, login_user, logout_user

from blueprints.access import public, safe_next
from blueprints.auth.forms import ChangePasswordForm, PreferencesForm, SignInForm
from blueprints.forms import attempt
from extensions import db
from models import accounts
from models.audit import audit

bp = Blueprint("auth", __name__, url_prefix="/auth")


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = SignInForm()
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next"), "")
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form), 422 if form.is_submitted() else 200
    try:
        user = accounts.sign_in(form.username.data, form.password.data,
                                ip=request.remote_addr)
    except accounts.SignInRefused as exc:
        db.session.commit()  # keep the audit entry and the failure count
        form.form_errors.append(exc.message)
        return render_template("auth/login.html", form=form), exc.status, \
            getattr(exc, "headers", {})
    accounts.start_session(user)  # a session of its own: signing out ends just this one
    db.session.commit()
    session.clear()  # a new session at sign-in (no fixation)
    login_user(user)
    session.permanent = True
    refresh()
    flash(_("Welcome, %(name)s.", name=user.display_name), "success")
    return redirect(safe_next(form.next.data, url_for("main.index")))


@bp.post("/logout")
def logout():
    user = current_user._get_current_object()
    audit(user, "auth.sign_out", user, ip=request.remote_addr)
    accounts.end_session(user, user.session_key)  # every copy of this cookie stops working
    db.session.commit()
    logout_user()
    session.clear()
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
def password():
    form = ChangePasswordForm()
    if not form.validate_on_submit():
        return render_template("auth/password.html", form=form), 422 if form.is_submitted() else 200
    user = current_user._get_current_object()
    with attempt(form) as tried:
        accounts.change_own_password(user, form.current_password.data, form.new_password.data)
        accounts.start_session(user)  # every session ended with the old password; a new one
    if tried.refusal:
        return render_template("auth/password.html", form=form), tried.status
    login_user(user)  # the cookie carries the new auth_version and session id
    flash(_("Your password has been changed. Other devices have been signed out."), "success")
    return redirect(url_for("main.index"))


@bp.route("/preferences", methods=["GET", "POST"])
def preferences():
    form = PreferencesForm(current_app.config["LANGUAGES"], obj=current_user)
    if not form.validate_on_submit():
        return render_template("auth/preferences.html", form=form), \
            422 if form.is_submitted() else 200
    with attempt(form) as tried:
        accounts.set_locale(current_user, form.locale.data)
    if tried.refusal:
        return render_template("auth/preferences.html", form=form), tried.status
    refresh()
    flash(_("Preferences saved."), "success")
    return redirect(url_for("main.index"))
