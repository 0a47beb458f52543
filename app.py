"""The application factory: create_app(config=None)."""
import logging
from datetime import datetime, timezone
from functools import lru_cache

from babel import Locale
from flask import (Flask, abort, current_app, flash, jsonify, redirect, render_template, request,
                   url_for)
from flask.sessions import SecureCookieSessionInterface
from flask_babel import get_locale, gettext as _, lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from itsdangerous import BadSignature
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import IntegerConverter

import extensions
import formatting
import ops
from config import build_config
from extensions import babel, csrf, db, login_manager, migrate

logger = logging.getLogger(__name__)


#: Scripts only from our own files: no inline <script>, no on* attributes, no eval (htmx's
#: hx-on / js: are off too: base.html sets allowEval false). Styles from our own files; inline
#: style attributes stay allowed (a few widths in templates, Bootstrap's components), <style>
#: elements do not (htmx's indicator styles are in app.css instead). Not framed by other sites.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'", "script-src 'self'", "style-src 'self'",
    "style-src-attr 'unsafe-inline'", "img-src 'self' data:", "font-src 'self' data:",
    "connect-src 'self'", "object-src 'none'", "base-uri 'self'", "form-action 'self'",
    "frame-ancestors 'self'"])


class SessionInterface(SecureCookieSessionInterface):
    """The session cookie is Secure whenever the request came over HTTPS. A signed-in session
    (permanent) is renewed at most once every SESSION_RENEW_AFTER_S, not on every request:
    signing the cookie again is a third of a millisecond, and the door's tablets send several
    writes a second. It still ends PERMANENT_SESSION_LIFETIME after the last renewal."""

    def open_session(self, app, request):
        serializer = self.get_signing_serializer(app)
        if serializer is None:
            return None
        cookie = request.cookies.get(self.get_cookie_name(app))
        if not cookie:
            return self.session_class()
        try:
            data, signed_at = serializer.loads(
                cookie, max_age=int(app.permanent_session_lifetime.total_seconds()),
                return_timestamp=True)
        except BadSignature:
            return self.session_class()
        session = self.session_class(data)
        session.signed_at = signed_at
        return session

    def should_set_cookie(self, app, session):
        if session.modified:
            return True
        if not (session.permanent and app.config["SESSION_REFRESH_EACH_REQUEST"]):
            return False
        signed_at = getattr(session, "signed_at", None)
        return signed_at is None or (datetime.now(timezone.utc) - signed_at).total_seconds() \
            >= app.config["SESSION_RENEW_AFTER_S"]

    def get_cookie_secure(self, app):
        return bool(app.config["SESSION_COOKIE_SECURE"] or request.is_secure)


def postgres_connect_args(config):
    """What every connection to PostgreSQL is opened with.

    - JIT off (``-c jit=off``): the screens' and reports' statements run for milliseconds to a
      second, and compiling one costs 40–70 ms (the company summary's gather at two million
      customers: 5.8 → 5.0 s, bench/scale.py). Through PgBouncer, which passes no startup
      options, set it on the database instead (README "Running at scale").
    - In PgBouncer's transaction mode no server-side prepared statements: PgBouncer may give
      the next transaction another server connection, which never saw them (config.py).
    """
    if config.get("PGBOUNCER_TRANSACTION_MODE"):
        return {"prepare_threshold": None}
    return {"options": "-c jit=off"}


def create_app(config=None):
    """Build the app. `config` (a mapping) overrides the environment, e.g. in tests."""
    app = Flask(__name__)
    app.config.update(build_config(config))
    app.instance_path = app.config["INSTANCE_DIR"]
    app.session_interface = SessionInterface()
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        options = app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {})
        # A file on this machine does not drop its connections: no ping before each use.
        options["pool_pre_ping"] = False
        options.setdefault("connect_args", {}).setdefault(
            "timeout", app.config["SQLITE_BUSY_TIMEOUT_S"])
        extensions.WRITE_GATE_TIMEOUT_S = app.config["SQLITE_BUSY_TIMEOUT_S"]
    postgres = app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql")
    if postgres:
        # A ping before every use costs a round trip per request: rested connections get one.
        app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {})["pool_pre_ping"] = False
        app.config["SQLALCHEMY_ENGINE_OPTIONS"].setdefault("connect_args", {}).update(
            postgres_connect_args(app.config))
    if reports := app.config.get("REPORTS_DATABASE_URL"):
        # A second engine (a read replica) for the report gathers and exports only; the main
        # engine's options, but not SQLite's driver arguments on a PostgreSQL replica.
        bind = {"url": reports}
        if not reports.startswith("sqlite"):
            bind.update(connect_args=postgres_connect_args(app.config), pool_pre_ping=False)
        app.config["SQLALCHEMY_BINDS"] = {extensions.REPORTS: bind}
    register_extensions(app)
    with app.app_context():
        # Whether a transaction wrote: end_read_only (PostgreSQL) and undone_if_it_fails.
        extensions.note_writes(db.engine)
        if postgres:
            extensions.ping_rested_connections(db.engine)
    if reports and reports.startswith("postgresql"):
        with app.app_context():
            extensions.ping_rested_connections(db.engines[extensions.REPORTS])
    register_blueprints(app)
    register_commands(app)
    register_errorhandlers(app)
    register_jinja(app)
    register_hooks(app)
    ops.init_app(app)
    return app


def register_extensions(app):
    import models  # noqa: F401  (the complete metadata, for Alembic)
    from models.accounts import load_user

    db.init_app(app)
    migrate.init_app(app, db, directory=str(app.root_path + "/migrations"))
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    login_manager.init_app(app)
    login_manager.user_loader(load_user)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please sign in first.")
    login_manager.login_message_category = "warning"
    login_manager.unauthorized_handler(_unauthorized)


def _unauthorized():
    if request.headers.get("HX-Request"):
        response = jsonify(error=_("Please sign in first."))
        response.status_code = 401
        response.headers["HX-Redirect"] = url_for("auth.login")
        return response
    if request.method == "GET":
        flash(_("Please sign in first."), "warning")
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    flash(_("Your session has ended. Please sign in again."), "warning")
    return redirect(url_for("auth.login"))


def select_locale():
    """The signed-in user's language, else the company default (Chinese)."""
    if request and current_user and current_user.is_authenticated and current_user.locale:
        return _parsed_locale(current_user.locale)
    return _parsed_locale(current_app.config["BABEL_DEFAULT_LOCALE"])


@lru_cache(maxsize=16)
def _parsed_locale(code):
    # Babel parses a locale by scanning its data directory: ~0.2 ms, twice a request otherwise.
    return Locale.parse(code)


def select_timezone():
    from models.settings import get_setting
    return get_setting("general.timezone")


class IdConverter(IntegerConverter):
    """`<int:…>` in our URLs (all ids): a number larger than the database's integer ids hold is
    a 404 like any other unknown id, not an error from PostgreSQL, whatever the method."""

    def to_python(self, value):
        number = super().to_python(value)
        if number > MAX_ID:
            raise NotFound()
        return number


#: The largest id an INTEGER column holds.
MAX_ID = 2**31 - 1


def register_blueprints(app):
    app.url_map.converters["int"] = IdConverter
    from blueprints.admin.routes import bp as admin_bp
    from blueprints.aftersales.routes import bp as aftersales_bp
    from blueprints.auth.routes import bp as auth_bp
    from blueprints.checkin.routes import bp as checkin_bp
    from blueprints.custody.routes import bp as custody_bp
    from blueprints.customers.routes import bp as customers_bp
    from blueprints.events.routes import bp as events_bp
    from blueprints.gifts.routes import bp as gifts_bp
    from blueprints.guide.routes import bp as guide_bp
    from blueprints.inventory.routes import bp as inventory_bp
    from blueprints.main.routes import bp as main_bp
    from blueprints.messages.routes import bp as messages_bp
    from blueprints.opening.routes import bp as opening_bp
    from blueprints.orders.routes import bp as orders_bp
    from blueprints.points.routes import bp as points_bp
    from blueprints.tasks.routes import bp as tasks_bp
    from blueprints.reports.routes import bp as reports_bp
    from blueprints.runs.routes import bp as runs_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(customers_bp)
    app.register_blueprint(aftersales_bp)
    app.register_blueprint(events_bp)
    app.register_blueprint(checkin_bp)
    app.register_blueprint(inventory_bp)
    app.register_blueprint(orders_bp)
    app.register_blueprint(gifts_bp)
    app.register_blueprint(custody_bp)
    app.register_blueprint(points_bp)
    app.register_blueprint(tasks_bp)
    app.register_blueprint(messages_bp)
    app.register_blueprint(reports_bp)
    app.register_blueprint(opening_bp)
    app.register_blueprint(guide_bp)
    app.register_blueprint(runs_bp)


def register_commands(app):
    from blueprints.admin.commands import (check_ledgers_command, create_admin_command,
                                           demo_data_command)
    from jobs import jobs_cli, scheduler_command

    app.cli.add_command(demo_data_command)
    app.cli.add_command(create_admin_command)
    app.cli.add_command(check_ledgers_command)
    app.cli.add_command(jobs_cli)
    app.cli.add_command(scheduler_command)


def register_errorhandlers(app):
    from sqlalchemy.exc import IntegrityError

    from models.base import OperationError, is_unique_violation

    messages = {
        400: _l("The request could not be understood. Reload the page and try again."),
        401: _l("Please sign in first."),
        403: _l("You do not have permission to do this. Ask an administrator if you need it."),
        404: _l("The page or record you asked for does not exist, or is not yours to see."),
        405: _l("This action is not available here."),
        413: _l("The upload is too large."),
        500: _l("Something went wrong on our side. The error has been logged; please try again."),
    }
    titles = {400: _l("Bad request"), 401: _l("Sign-in required"), 403: _l("Not allowed"),
              404: _l("Not found"), 405: _l("Not available"), 413: _l("Too large"),
              500: _l("Server error")}

    def render_error(status, message=None):
        db.session.rollback()
        if request.headers.get("HX-Request") or request.accept_mimetypes.best == \
                "application/json":
            return jsonify(error=str(message or messages.get(status, ""))), status
        return render_template("errors/error.html", status=status,
                               title=titles.get(status, _("Error")),
                               message=message or messages.get(status)), status

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return render_error(400, _("This form has expired or was not sent from this site. "
                                   "Reload the page and try again."))

    @app.errorhandler(OperationError)
    def operation_error(error):
        return render_error(error.status, error.message)

    @app.errorhandler(413)
    def too_large(error):
        return render_error(413, _("The upload is too large: at most %(mb)s MB. Send a smaller "
                                   "file, or split it into several.",
                                   mb=f"{app.config['MAX_CONTENT_LENGTH'] / 1048576:.3g}"))

    @app.errorhandler(HTTPException)
    def http_error(error):
        return render_error(error.code if error.code in messages else 400,
                            None if error.code in messages else error.description)

    @app.errorhandler(IntegrityError)
    def integrity_error(error):
        """A unique key refused a row that a concurrent request (a double tap, a second
        tablet) wrote first: nothing of this request is kept, and the user is told to look.
        Any other integrity error is a bug, answered as one."""
        if not is_unique_violation(error):
            return server_error(error)
        logger.warning("A unique key refused a concurrent write on %s %s: %s", request.method,
                       request.path, str(error.orig).splitlines()[0])
        return render_error(409, _("This was just saved by another submission (a second tap "
                                   "or another device). Reload the page to see it."))

    @app.errorhandler(Exception)
    def server_error(error):
        logger.exception("Unhandled error on %s %s", request.method, request.path)
        return render_error(500)


def register_jinja(app):
    from blueprints.access import can
    from blueprints.forms import link_args
    from blueprints.guide.help import help_url
    from blueprints.nav import nav_items
    from models import (background, custody, door, events, gifts, inventory, opening, orders,
                        points)
    from models.base import new_token
    from models.accounts import ROLES
    from models.settings import get_setting

    extensions.install_gettext(app)
    app.jinja_env.filters.update(formatting.FILTERS)
    app.jinja_env.globals.update(nav_items=nav_items, can=can, ROLES=ROLES, help_url=help_url,
                                 get_setting=get_setting, get_locale=get_locale,
                                 link_args=link_args, EVENT_KINDS=events.KINDS,
                                 RUN_STATES=background.STATES, RUN_STAGES=background.STAGES,
                                 EVENT_STATUSES=events.STATUSES,
                                 EVENT_COST_KINDS=events.COST_KINDS,
                                 INVITATION_STATUSES=events.INVITATION_STATUSES,
                                 INVITATION_TRANSITIONS=events.INVITATION_TRANSITIONS,
                                 INVITATION_ACTIONS=events.INVITATION_ACTIONS,
                                 INVENTORY_REASONS=inventory.REASONS,
                                 INVENTORY_UNITS=inventory.UNITS,
                                 PRODUCT_FLAGS=inventory.PRODUCT_FLAGS,
                                 PRICE_FIELDS=inventory.PRICE_FIELDS,
                                 WAREHOUSE_KINDS=inventory.WAREHOUSE_KINDS,
                                 DOCUMENT_KINDS=inventory.DOCUMENT_KINDS,
                                 COUNT_STATUSES=inventory.COUNT_STATUSES,
                                 LOCATION_KINDS=inventory.LOCATION_KINDS,
                                 ORDER_CHANNELS=orders.CHANNELS,
                                 PAYMENT_KINDS=orders.PAYMENT_KINDS,
                                 PAYMENT_METHODS=orders.METHODS,
                                 PAYMENT_STATES=orders.PAYMENT_STATES,
                                 AGEING=orders.AGEING,
                                 BACKDATE_ROLES=orders.BACKDATE_ROLES,
                                 GOODWILL_ROLES=orders.GOODWILL_ROLES,
                                 EARLY_RELEASE_ROLES=custody.EARLY_RELEASE_ROLES,
                                 OVERRIDE_ROLES=events.OVERRIDE_ROLES,
                                 RETURN_DISPOSITIONS=orders.RETURN_DISPOSITIONS,
                                 RULE_KINDS=gifts.RULE_KINDS, GIFT_KINDS=gifts.ISSUE_KINDS,
                                 new_token=new_token, CUSTODY_KINDS=custody.ENTRY_KINDS,
                                 POINTS_KINDS=points.KINDS,
                                 CONFLICT_REASONS=door.CONFLICT_REASONS,
                                 DOOR_WRITE_KINDS=door.DOOR_WRITE_KINDS,
                                 OPENING_KINDS=opening.KINDS, OPENING_STATUSES=opening.STATUSES)


def register_hooks(app):
    from blueprints.access import require_sign_in
    from models.base import begin_write, end_read_only, end_reads
    from models.settings import read_settings

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        @app.teardown_appcontext
        def end_read_only_transaction(exc):
            # A request that only read ends with COMMIT (psycopg keeps its prepared statements;
            # extensions.note_writes). Runs before Flask-SQLAlchemy's session.remove().
            if exc is None:
                end_read_only()

    if proxies := app.config.get("TRUSTED_PROXIES"):
        # Behind that many reverse proxies, the client's address (sign-in throttling, the audit
        # log) and scheme come from their X-Forwarded-* headers; never trusted otherwise.
        from werkzeug.middleware.proxy_fix import ProxyFix
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)

    @app.before_request
    def refuse_nul_characters():
        # No person types U+0000; PostgreSQL refuses it in text. Answer 400 before any query.
        values = [*request.args.values(), *(request.form.values() if request.form else [])]
        if any("\x00" in value for value in values):
            abort(400)

    @app.before_request
    def start_write_transaction():
        # A POST's own work must run in a write transaction (BEGIN IMMEDIATE on SQLite) or a
        # concurrent writer can make it fail mid-way. Who is asking is read first, in a short
        # read transaction of its own, so that SQLite's one write lock is held only for the
        # request's own reads and writes (more check-ins per second at the door).
        # On PostgreSQL there is no such lock: one transaction serves (one round trip less).
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            if db.engine.dialect.name == "sqlite":
                current_user._get_current_object()
                read_settings()
                end_reads()
            begin_write()

    app.before_request(require_sign_in)

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        if request.endpoint != "static":
            response.headers.setdefault("Cache-Control", "no-store")
        return response
