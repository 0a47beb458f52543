"""Flask extensions, created unbound and bound to the app in create_app()."""
import sqlite3

from flask_babel import Babel
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData, event
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


db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING_CONVENTION))
migrate = Migrate(compare_type=True, render_as_batch=True, render_item=_render_item)
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()

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
    conn.exec_driver_sql(f"BEGIN {mode}" if mode == "IMMEDIATE" else "BEGIN")
