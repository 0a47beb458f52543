"""Flask extensions, created unbound and bound to the app in create_app()."""
import contextvars
import fcntl
import functools
import os
import sqlite3
import time
from contextlib import contextmanager

from flask.globals import _cv_app  # the app context's variable (`g` without its proxy)
from flask_babel import Babel, Domain
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.session import Session as FlaskSession
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData, Select, event
from sqlalchemy.engine import Engine

#: Named constraints, so that migrations are the same on SQLite (batch mode) and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}



def _render_item(type_, obj, autogen_context):
    """Write our UTCDateTime as a plain DateTime in migrations (they must not import models)."""
    if type_ == "type" and type(obj).__name__ == "UTCDateTime":
        return "sa.DateTime()"
    return False


# --- The reports' engine ------------------------------------------------------------------------
# REPORTS_DATABASE_URL (config.py) binds a second engine, REPORTS: a read replica that the report
# gathers and exports read from, so that a month's figures or an export of every customer do not
# load the primary. Only what runs inside `reading_reports()` goes there, and only its SELECTs:
# a flush, an INSERT or UPDATE (an audit entry, a run's progress) still goes to the primary.
# Unset: no such engine, everything reads the primary.

#: The bind key of the reports' engine.
REPORTS = "reports"
_READING_REPORTS = contextvars.ContextVar("reading_reports", default=False)


class Session(FlaskSession):
    """Flask-SQLAlchemy's session; inside `reading_reports()` its SELECTs go to the reports'
    engine when there is one."""

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        if bind is None and _READING_REPORTS.get() and isinstance(clause, Select) \
                and not self._flushing:
            engine = self._db.engines.get(REPORTS)
            if engine is not None:
                return engine
        return super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)


@contextmanager
def reading_reports():
    """Reads inside go to the reports' engine (REPORTS_DATABASE_URL), when one is set."""
    token = _READING_REPORTS.set(True)
    try:
        yield
    finally:
        _READING_REPORTS.reset(token)


def reads_reports(function):
    """A report gather or export that reads through the reports' engine (reading_reports)."""
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with reading_reports():
            return function(*args, **kwargs)
    return wrapper


db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING_CONVENTION),
                session_options={"class_": Session})
migrate = Migrate(compare_type=True, render_as_batch=True, render_item=_render_item)
login_manager = LoginManager()
csrf = CSRFProtect()


class RequestDomain(Domain):
    """flask_babel's message domain, its translations looked up once a request (and again when
    the locale changes: `refresh()` after a user picks a language, `force_locale`). Each
    gettext otherwise found them through six lookups of `g` by its proxy and the locale's name:
    10 µs on a 2-core machine, some 800 times on a marketer's Today of 140 cards. The app
    context is read from its context variable (what the proxy reads, ~0.1 µs)."""

    def get_translations(self):
        app_ctx = _cv_app.get(None)
        kept = getattr(app_ctx.g, "_flask_babel", None) if app_ctx is not None else None
        memo = getattr(kept, "hxt_translations", None)
        if memo is not None and memo[0] is self and memo[1] is getattr(kept, "babel_locale", None):
            return memo[2]
        found = super().get_translations()
        kept = getattr(app_ctx.g, "_flask_babel", None) if app_ctx is not None else None
        if kept is not None and getattr(kept, "babel_locale", None) is not None:
            kept.hxt_translations = (self, kept.babel_locale, found)
        return found


def install_gettext(app):
    """Templates' gettext straight from the domain's kept translations (flask_babel's own
    callables find the domain through `g` first, on every call)."""
    domain = babel.domain_instance
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: domain.get_translations().ugettext(s),
        ngettext=lambda s, p, n: domain.get_translations().ungettext(s, p, n),
        pgettext=lambda c, s: domain.get_translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: domain.get_translations().unpgettext(c, s, p, n),
        newstyle=True)


babel = Babel()
babel.domain_instance = RequestDomain()

#: Execution option that makes the next transaction on SQLite start with BEGIN IMMEDIATE.
SQLITE_WRITE = {"sqlite_begin": "IMMEDIATE"}


# --- SQLite: WAL, foreign keys, busy timeout, and our own BEGIN --------------------------------
# Python's sqlite3 driver opens transactions lazily and only before a write, so a transaction
# that reads and then writes can fail with "database is locked" when another writer got there
# first (a busy timeout does not help: the snapshot is stale). We take BEGIN into our own hands,
# as the SQLAlchemy pysqlite dialect documents, and start write transactions with
# BEGIN IMMEDIATE (see models.base.begin_write), which waits for the write lock up front.
# The busy timeout is the driver's `timeout` connect argument, set in app.py.

@event.listens_for(Engine, "connect")
def _sqlite_on_connect(dbapi_connection, connection_record):
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    dbapi_connection.isolation_level = None  # the driver emits no BEGIN; _sqlite_on_begin does
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_on_begin(conn):
    if conn.dialect.name != "sqlite":
        return
    mode = conn.get_execution_options().get("sqlite_begin", "")
    if mode == "IMMEDIATE":
        _enter_write_gate(conn)
    conn.exec_driver_sql(f"BEGIN {mode}" if mode == "IMMEDIATE" else "BEGIN")


# --- SQLite: a gate for writers that wakes the next one at once -------------------------------
# SQLite lets one writer in at a time; the others wait in its busy handler, which sleeps 1, 2,
# 5, 10... ms between tries, so under load the write lock often stands free while everyone
# sleeps. Writers (every process and thread) therefore queue first on an OS file lock next to
# the database, polled every 0.2 ms, and take SQLite's lock only when it is theirs. The gate
# opens when the connection goes back to the pool (after COMMIT or ROLLBACK), or when the
# process dies. If the gate is not had within the busy timeout, BEGIN IMMEDIATE proceeds and
# SQLite's own timeout decides.

#: Seconds to wait at the gate; app.py sets it from SQLITE_BUSY_TIMEOUT_S.
WRITE_GATE_TIMEOUT_S = 15.0
_GATE_KEY = "write_gate_fd"


def _gate_path(conn):
    database = conn.engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return os.path.abspath(database) + "-writers"


def _enter_write_gate(conn):
    path = _gate_path(conn)
    if path is None:
        return
    info = conn.connection.info
    if info.get(_GATE_KEY) is None:
        info[_GATE_KEY] = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    fd = info[_GATE_KEY]
    deadline = time.monotonic() + WRITE_GATE_TIMEOUT_S
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                return
            time.sleep(0.0002)


@event.listens_for(Engine, "checkin")
def _leave_write_gate(dbapi_connection, connection_record):
    fd = connection_record.info.get(_GATE_KEY) if connection_record is not None else None
    if fd is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)


@event.listens_for(Engine, "close")
def _close_write_gate(dbapi_connection, connection_record):
    fd = connection_record.info.pop(_GATE_KEY, None) if connection_record is not None else None
    if fd is not None:
        os.close(fd)


# --- PostgreSQL: ping a connection only when it has rested ------------------------------------
# A ping before every use (pool_pre_ping) costs a round trip per request, a tenth of a door
# check-in. A connection handed back to the pool moments ago is alive; one that rested longer
# (the server restarted, a firewall dropped it) is pinged, and if it is dead the pool opens a
# new one before the request sees it. Should the server go away within those few seconds, the
# first statement fails and SQLAlchemy drops that connection and every older one of the pool.

#: A connection back in the pool for longer than this is pinged before it is used again.
PING_AFTER_REST_S = 5.0
_RETURNED_AT = "returned_at"


def ping_rested_connections(engine):
    """Use instead of pool_pre_ping (app.py does, for PostgreSQL)."""
    from sqlalchemy.exc import DisconnectionError
    dialect = engine.dialect

    def note_return(dbapi_connection, connection_record):
        connection_record.info[_RETURNED_AT] = time.monotonic()

    def ping_if_rested(dbapi_connection, connection_record, connection_proxy):
        rested = time.monotonic() - connection_record.info.get(_RETURNED_AT, float("-inf"))
        if rested <= PING_AFTER_REST_S:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(f"the connection rested {rested:.0f} s and is gone") \
                from exc

    event.listen(engine, "connect", note_return)
    event.listen(engine, "checkin", note_return)
    event.listen(engine, "checkout", ping_if_rested)


# --- PostgreSQL: a transaction that only read ends with COMMIT --------------------------------
# psycopg prepares a statement after its fifth run on a connection and throws all of them away
# at every ROLLBACK. A request that only read used to end with one (the session's close), so at
# a door that searches and polls between scans statements were hardly ever prepared. For a
# transaction that only read, COMMIT and ROLLBACK do the same in the database; app.py ends such
# requests with COMMIT. A transaction that sent anything but a SELECT is marked as writing and
# still ends with ROLLBACK unless the request committed it.
_WROTE = "wrote"


def note_writes(engine):
    """Mark each transaction of `engine` that sends anything but a SELECT (see `wrote`)."""
    def begin(conn):
        conn.info.pop(_WROTE, None)

    def before_cursor_execute(conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip()[:6].upper() == "SELECT":
            conn.info[_WROTE] = True

    event.listen(engine, "begin", begin)
    event.listen(engine, "before_cursor_execute", before_cursor_execute)


def wrote(connection):
    """Whether the connection's transaction has sent anything but a SELECT."""
    return connection.info.get(_WROTE, False)
