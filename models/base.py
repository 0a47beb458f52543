"""What every area builds on: the UTC datetime type, errors, one-time tokens, write transactions."""
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone

from sqlalchemy import DateTime, Integer, String, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from extensions import SQLITE_WRITE, db, wrote


def utcnow():
    """The current time, timezone-aware, in UTC."""
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """A datetime stored as naive UTC and returned aware (UTC), the same on SQLite and PostgreSQL.

    Refuses naive datetimes: a naive value is a bug (whose local time is it?).
    """
    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("UTCDateTime needs an aware datetime, got a naive one")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc)


# --- Errors an operation raises; routes turn them into a message and a 4xx -------------------

class OperationError(Exception):
    """A business rule refused the operation. `message` is for the user (translated)."""
    status = 400

    def __init__(self, message, *, field=None):
        super().__init__(str(message))
        self.message = message
        #: The form field the message belongs next to, if any.
        self.field = field


class InvalidInput(OperationError):
    """The input is well-formed but breaks a rule (a weak password, a date in the future)."""
    status = 422


class NotFound(OperationError):
    """The record does not exist, or is outside the actor's scope (we don't say which)."""
    status = 404


class PermissionDenied(OperationError):
    """The actor may not do this."""
    status = 403


class Conflict(OperationError):
    """The record's state or another record stands in the way (a duplicate, a closed event)."""
    status = 409


# --- Write transactions ----------------------------------------------------------------------

def begin_write(session=None):
    """Start the session's transaction as a write transaction (BEGIN IMMEDIATE on SQLite).

    Call before the first query of a unit of work that will write: every non-GET request does
    (app.py), and so do jobs and CLI commands. On PostgreSQL it only procures the connection;
    row locks there come from ``with_for_update()``.
    """
    session = session or db.session()
    if session.in_transaction():
        return session.connection()
    return session.connection(execution_options=SQLITE_WRITE)


@contextmanager
def undone_if_it_fails(session=None):
    """`with db.session.begin_nested():` — work that leaves nothing behind when it raises, so
    the caller can still write why (a refusal) and commit — for a write transaction that may
    have written nothing yet. Then undoing the work is rolling the transaction back and
    beginning a new write transaction, and the SAVEPOINT and its RELEASE are not sent: two
    round trips fewer on the happy path (the door's every queued check-in). Once anything was
    written or is pending, it is a savepoint as usual. Either way, what the work changed is
    expired or gone when it raises; a rollback of the transaction expires everything loaded."""
    session = session or db.session()
    if not session.in_transaction() or session.new or session.dirty or session.deleted \
            or wrote(session.connection()):
        with session.begin_nested():
            yield
        return
    try:
        yield
        session.flush()  # what the work left pending fails here, as at a savepoint's end
    except BaseException:
        session.rollback()
        begin_write(session)
        raise


def end_reads(session=None):
    """End a transaction that has only read, keeping what it loaded usable (not expired).

    Lets a request read who is asking before its write transaction begins. Refuses if anything
    is pending to be written: that would be committed here by mistake.
    """
    session = session or db.session()
    if not session.in_transaction():
        return
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("end_reads() with unwritten changes")
    commit_keeping_loaded(session)


def commit_keeping_loaded(session=None):
    """Commit, and keep what the session loaded as it was (not expired): a page drawn after the
    commit from what the request just wrote needs no second round of queries for it."""
    session = session or db.session()
    keep = session.expire_on_commit
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = keep


def end_read_only(session=None):
    """At the end of a request: COMMIT the session's transaction if it only read (nothing
    pending, nothing but SELECTs sent); anything else is left to the ROLLBACK that follows.
    Keeps psycopg's prepared statements (see extensions.note_writes)."""
    session = session or db.session()
    if not session.in_transaction() or session.new or session.dirty or session.deleted:
        return
    if not wrote(session.connection()):
        try:
            session.commit()
        except SQLAlchemyError:  # the connection went away: there was nothing to keep, and
            pass                 # the session's close that follows discards it


# --- One-time form tokens --------------------------------------------------------------------

def new_token():
    """A fresh one-time token for a form that writes a ledger entry."""
    return str(uuid.uuid4())


def is_token(value):
    """True if `value` looks like a token from new_token()."""
    try:
        return str(uuid.UUID(str(value))) == value
    except (ValueError, TypeError, AttributeError):
        return False


class TokenMixin:
    """For ledger tables: the one-time token of the submission that wrote the row, unique.

    A repeated submission (double tap, retry after a timeout, a second tablet) carries the same
    token; the unique constraint refuses the second row and add_once() returns the first.
    """
    #: The form's one-time token; NULL for rows written by jobs, which have their own unique keys.
    token: Mapped[str | None] = mapped_column(String(36), unique=True)

    @classmethod
    def by_token(cls, token):
        """The row written with `token`, or None."""
        if not token:
            return None
        return db.session.scalar(select(cls).where(cls.token == token))


def is_unique_violation(error):
    """True if an IntegrityError is a unique key refusing a duplicate (PostgreSQL's 23505,
    SQLite's "UNIQUE constraint failed")."""
    orig = getattr(error, "orig", None)
    return getattr(orig, "sqlstate", None) == "23505" or \
        str(orig).startswith("UNIQUE constraint failed")


def lock_row(row):
    """`row` read again under a row lock (SELECT … FOR UPDATE on PostgreSQL; on SQLite the
    write transaction already holds the one write lock), its attributes refreshed.

    Take it before checking a one-time token or "already reversed": a concurrent duplicate then
    waits here for the first submission's commit, and its check sees the first result.
    """
    model = type(row)
    return db.session.scalar(select(model).where(model.id == row.id)
                             .with_for_update(of=model)
                             .execution_options(populate_existing=True))


def add_once(row):
    """Add a TokenMixin row; if its token was already written, return (first row, False).

    Returns (row, True) when this call wrote it. Runs in a savepoint so the losing side of a race
    keeps its transaction usable.
    """
    if row.token:
        if (prior := type(row).by_token(row.token)) is not None:
            return prior, False
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:
        prior = type(row).by_token(row.token) if row.token else None
        if prior is None:
            raise
        return prior, False
    return row, True


def among(column, values):
    """`column IN values` for a long list of ids (a chunk of thousands), as each database takes
    it best: on PostgreSQL one array parameter (``= ANY(%s)``, the same plan) — psycopg spent
    a third of a second of CPU splitting each query of 5,000 placeholders (the nightly custody
    reminders: 3 s of 15); elsewhere ``IN (…)``."""
    values = list(values)
    if db.session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, values, type_=ARRAY(Integer)))
    return column.in_(values)
