"""Home page and health check."""
import logging

from flask import Blueprint, jsonify, render_template
from sqlalchemy import text

from blueprints.access import public
from blueprints.nav import nav_items
from extensions import db

logger = logging.getLogger(__name__)
bp = Blueprint("main", __name__)


@bp.get("/")
def index():
    """The signed-in user's start page: who they are and the areas they can open."""
    return render_template("main/index.html", items=nav_items()[1:])


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
