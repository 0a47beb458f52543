"""Home page (with the administrator's getting-started checklist) and health check."""
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
from models import setup

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
    """The signed-in user's start page: who they are and the areas they can open; for an
    administrator, the getting-started checklist until it is done or put away."""
    checklist = None
    if can("main.hide_setup"):
        steps = setup.setup_steps()
        if setup.checklist_shown(steps):
            checklist = [(step, _setup_link(step.key)) for step in steps]
    return render_template("main/index.html", items=nav_items()[1:], checklist=checklist,
                           confirm_form=ConfirmForm())


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
