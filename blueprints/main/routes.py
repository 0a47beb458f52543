"""Home page — each role's figures to start the day with (reports/home.py), the administrator's
getting-started checklist — and health check."""
import logging

from flask import Blueprint, abort, jsonify, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import text

from blueprints.access import can, public, role_required
from blueprints.forms import run_operation
from blueprints.main.forms import ConfirmForm
from blueprints.nav import nav_items
from extensions import db
from formatting import local_day
from models import setup
from models.base import utcnow
from models.targets import FIGURES
from reports import home

logger = logging.getLogger(__name__)
bp = Blueprint("main", __name__)

#: Where each step of the checklist is done: (endpoint, its arguments).
SETUP_LINKS = {
    "company": ("admin.settings", {}),
    "departments": ("admin.departments", {}),
    "users": ("admin.users", {}),
    "warehouses": ("inventory.warehouses", {}),
    "products": ("inventory.products", {}),
    "opening_stock": ("opening.index", {}),
    "customers": ("customers.import_upload", {}),
    "opening_balances": ("opening.index", {}),
    "settings": ("admin.settings", {}),
    "first_event": ("events.new", {}),
}


@bp.get("/")
def index():
    """The signed-in user's start page: the figures of each of their roles (a manager's or
    head's, a marketer's, the warehouse's, finance's: reports/home.py), then the areas they can
    open; for an administrator, the getting-started checklist until it is done or put away."""
    checklist = None
    if can("main.hide_setup"):
        steps = setup.setup_steps()
        if setup.checklist_shown(steps):
            checklist = [(step, _setup_link(step.key)) for step in steps]
    now = utcnow()
    today = local_day(now)
    user = current_user
    figures = {
        "manager": home.manager(user, today) if user.has_role("manager", "dept_head") else None,
        "marketer": home.marketer(user, today, now) if user.has_role("marketer") else None,
        "warehouse": home.warehouse(today) if user.has_role("warehouse") else None,
        "finance": home.finance(today) if user.has_role("finance") else None,
    }
    return render_template("main/index.html", items=nav_items()[1:], checklist=checklist,
                           confirm_form=ConfirmForm(), home=figures, today=today,
                           figure_labels=FIGURES)


def _setup_link(key):
    endpoint, args = SETUP_LINKS[key]
    return url_for(endpoint, **args) if can(endpoint) else None


@bp.post("/setup/settings-reviewed")
@role_required("admin")
def setup_settings_reviewed():
    """Tick "settings reviewed" on the checklist."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    run_operation(lambda: setup.mark_settings_reviewed(actor=current_user),
                  _("Settings marked as reviewed."))
    return redirect(url_for("main.index"))


@bp.post("/setup/hide")
@role_required("admin")
def hide_setup():
    """Put the checklist away (系统设置 → 开始使用 brings it back)."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    run_operation(lambda: setup.hide_checklist(actor=current_user),
                  _("The getting-started checklist is put away. Settings → Getting started "
                    "brings it back."))
    return redirect(url_for("main.index"))


@bp.get("/healthz")
@public
def healthz():
    """Liveness and database check for load balancers and monitoring (no sign-in)."""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as exc:  # any database failure is reported as 503, never raised
        db.session.rollback()
        logger.warning("Health check failed: %s", exc)
        return jsonify(status="error", db=str(exc).splitlines()[0][:300]), 503
    return jsonify(status="ok", db="ok")
