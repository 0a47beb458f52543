"""Background runs: large imports and exports that run outside the request (issue 26 §1).

A page that would take too long — a dry run or confirmation of an import of more rows than the
setting ``imports.background_rows`` (default 2,000), an export of as many customers — enqueues a row of
``background_runs`` and sends the clerk to its progress page. The row is the run's whole state
(no in-memory task): its kind, the batch it is for, queued → running → done / failed, rows done
of the total, errors so far, started / heartbeat / finished times, the error text, the result
(JSON; an export's workbook in ``background_run_parts``, pieces of a mebibyte), who asked. Any worker on any host reads it, so the
page survives a reload and another device, and the clerk finds it again under 导入记录.

Who works the queue: the scheduler process every few seconds, and ``flask --app app jobs work``
(until the queue is empty: for tests and for a worker unit) — jobs/background.py. A worker
*claims* the oldest queued run with ``UPDATE … SET state='running' WHERE id=:id AND
state='queued'`` in a short transaction of its own (a second worker's UPDATE finds it running
and claims nothing: both databases), then runs it in **one** work transaction that also marks
it done (``WHERE state='running'``), so the work and its "done" commit together or not at all.

Progress is written every few rows *outside* that transaction, so it shows while the work is
open: on PostgreSQL an UPDATE in a short transaction on a connection of its own; on SQLite,
where a second connection cannot write while the work's transaction holds the one write lock,
a small JSON file per run under ``INSTANCE_DIR/runs/`` (SQLite is one host: every worker reads
it). The heartbeat travels with the progress. A run whose heartbeat is older than
``STALE_AFTER`` (a worker restarted, a machine went down) is marked failed by the next worker
and shown as failed at once; its work transaction never committed, so an all-or-nothing import
wrote nothing, and the page offers to start it again (a new run of the same kind and batch).

The operations themselves (customer_import.dry_run / confirm, opening.dry_run / confirm) take
an optional ``progress(done, errors, stage=…)`` callback; ``Progress`` is that callback and
decides how often to write. What each kind does is registered by the layer that may call it
(``register_handler``): the imports by jobs/background.py, the export by
reports/customer_export.py.
"""
import io
import itertools
import json
import os
import time as clock
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import ForeignKey, Integer, JSON, LargeBinary, String, Text, select, update
from sqlalchemy.orm import Mapped, mapped_column

from extensions import db
from models.base import Conflict, NotFound, UTCDateTime, new_token, utcnow
from models.settings import define, define_area

#: A running run whose heartbeat is older than this is taken for dead.
STALE_AFTER = timedelta(minutes=3)
#: Progress is written at most this often (seconds), and at every stage's end.
PROGRESS_SECONDS = 1.0
STATES = {"queued": _l("Waiting to start"), "running": _l("Running"), "done": _l("Done"),
          "failed": _l("Failed")}
STAGES = {"check": _l("Checking rows"), "write": _l("Writing rows"),
          "export": _l("Writing the workbook")}


@dataclass(frozen=True)
class Kind:
    code: str
    label: object
    #: Stages the run goes through, in order (the bar spans them all).
    stages: tuple = ("check",)


KINDS = {k.code: k for k in [
    Kind("customer_import_dry_run", _l("Customer import: dry run")),
    Kind("customer_import", _l("Customer import"), ("check", "write")),
    Kind("opening_dry_run", _l("Opening balances: dry run")),
    Kind("opening_import", _l("Opening balances import"), ("check", "write")),
    Kind("customer_export", _l("Customer export"), ("export",)),
]}
#: kind code → handler(run, progress) -> result dict; registered by the layer that may call it.
HANDLERS = {}

define_area("imports", _l("Imports and exports"))
define("imports.background_rows", "int", 2000, _l("Rows above which an import or export runs in the "
                                          "background"),
       _l("Larger files are checked, imported and exported outside the page, with a progress "
          "bar the clerk can leave and come back to."), min=1, max=1_000_000)


def register_handler(kind, handler):
    HANDLERS[kind] = handler


class BackgroundRun(db.Model):
    """One import or export run outside the request, and what became of it."""
    __tablename__ = "background_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: In the URL instead of the id: unguessable.
    token: Mapped[str] = mapped_column(String(36), unique=True, default=new_token)
    kind: Mapped[str] = mapped_column(String(30))
    #: The import batch it is for: import_batches.id or opening_batches.id (by kind).
    batch_id: Mapped[int | None] = mapped_column(Integer, index=True)
    #: What the run needs besides the batch (a mode, a mapping, an export's filter).
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(10), default="queued", index=True)
    stage: Mapped[str] = mapped_column(String(10), default="check")
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    errors_so_far: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict | None] = mapped_column(JSON)
    #: The size of an export's workbook in bytes (its pieces are in background_run_parts).
    content_size: Mapped[int | None] = mapped_column(Integer)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)

    @property
    def kind_def(self):
        return KINDS[self.kind]


class BackgroundRunPart(db.Model):
    """A piece of a run's file (an export's workbook), in order. The file is kept in the
    database — any worker on any host can send it — a mebibyte a row, so neither the worker
    that writes it nor the page that sends it holds more than a piece at a time: the export of
    two million customers is a 140 MB workbook (#29 §2, the worker's peak ≤ 300 MB)."""
    __tablename__ = "background_run_parts"

    run_id: Mapped[int] = mapped_column(ForeignKey("background_runs.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    data: Mapped[bytes] = mapped_column(LargeBinary)


#: The size of a stored piece of a run's file.
PART_BYTES = 1 << 20


# --- Reads -------------------------------------------------------------------------------------

def run_or_404(token, actor):
    """The actor's own run, by its token."""
    run = db.session.scalar(select(BackgroundRun).where(BackgroundRun.token == str(token),
                                                        BackgroundRun.created_by_id == actor.id))
    if run is None:
        raise NotFound(_("This run does not exist or is not yours."))
    return run


def runs_for(kinds, batch_ids=None, *, actor=None, limit=100):
    """The latest runs of some kinds (for some batches, or of one user), newest first."""
    query = select(BackgroundRun).where(BackgroundRun.kind.in_(kinds)) \
        .order_by(BackgroundRun.id.desc()).limit(limit)
    if batch_ids is not None:
        query = query.where(BackgroundRun.batch_id.in_(list(batch_ids)))
    if actor is not None:
        query = query.where(BackgroundRun.created_by_id == actor.id)
    return db.session.scalars(query).all()


def latest_run(kinds, batch_id):
    """The newest run of these kinds for a batch, or None."""
    found = runs_for(kinds, [batch_id], limit=1)
    return found[0] if found else None


@dataclass(frozen=True)
class Status:
    """What the progress page shows of a run."""
    state: str
    stage: str
    rows_done: int
    rows_total: int
    errors: int
    #: 0–100 over all the kind's stages.
    percent: int
    seconds_left: int | None
    heartbeat_at: datetime | None
    #: Running, but its worker stopped answering: shown (and soon marked) failed.
    stale: bool


def status_of(run, now=None):
    now = now or utcnow()
    state, stage, done, total, errors, beat = (run.state, run.stage, run.rows_done,
                                               run.rows_total, run.errors_so_far,
                                               run.heartbeat_at)
    if state == "running" and (seen := _read_file(run.id)) is not None:
        stage, done, errors = seen["stage"], seen["done"], seen["errors"]
        beat = datetime.fromisoformat(seen["beat"])
    stages = run.kind_def.stages
    index = stages.index(stage) if stage in stages else 0
    part = (done / total) if total else 0
    if state == "done":
        percent = 100
    else:
        percent = min(99, int(100 * (index + part) / len(stages)))
    left = None
    if state == "running" and run.started_at and percent > 0:
        elapsed = (now - run.started_at).total_seconds()
        left = int(elapsed * (100 - percent) / percent)
    stale = state == "running" and beat is not None and now - beat > STALE_AFTER
    return Status(state, stage, done, total, errors, percent, left, beat, stale)


# --- Operations ---------------------------------------------------------------------------------

def enqueue(kind, *, actor, batch_id=None, params=None, rows_total=0, now=None):
    """Queue a run; the scheduler or `flask jobs work` picks it up."""
    run = BackgroundRun(kind=KINDS[kind].code, batch_id=batch_id, params=params or {},
                        rows_total=rows_total, stage=KINDS[kind].stages[0],
                        created_by_id=actor.id, created_at=now or utcnow())
    db.session.add(run)
    db.session.flush()
    return run


def claim_next(now=None):
    """Claim the oldest queued run for this worker (the caller commits at once); None when the
    queue is empty. Safe with several workers on either database: the claim is an UPDATE that
    only a queued row passes."""
    now = now or utcnow()
    while True:
        run_id = db.session.scalar(select(BackgroundRun.id).where(
            BackgroundRun.state == "queued").order_by(BackgroundRun.id).limit(1))
        if run_id is None:
            return None
        claimed = db.session.execute(
            update(BackgroundRun).where(BackgroundRun.id == run_id,
                                        BackgroundRun.state == "queued")
            .values(state="running", started_at=now, heartbeat_at=now, rows_done=0,
                    errors_so_far=0)
            .execution_options(synchronize_session=False)).rowcount
        if claimed:
            return run_id


def finish(run, result, *, content=None, now=None):
    """Mark the run done, in its work transaction: refused (RuntimeError, so the work rolls
    back) when it is no longer running — a worker took it for dead meanwhile. `content` (bytes
    or a binary file, read a piece at a time) is kept as the run's file."""
    now = now or utcnow()
    values = dict(state="done", finished_at=now, heartbeat_at=now, result=result,
                  rows_done=run.rows_total, errors_so_far=(result or {}).get("errors", 0),
                  stage=run.kind_def.stages[-1])
    if content is not None:
        values["content_size"] = _store(run.id, content)
    done = db.session.execute(
        update(BackgroundRun).where(BackgroundRun.id == run.id,
                                    BackgroundRun.state == "running")
        .values(**values).execution_options(synchronize_session=False)).rowcount
    if not done:
        raise RuntimeError(f"background run {run.id} is no longer running")
    _drop_file(run.id)


def _store(run_id, content):
    """Write `content` as the run's pieces; returns its size in bytes."""
    source = io.BytesIO(content) if isinstance(content, (bytes, bytearray)) else content
    table, size = BackgroundRunPart.__table__, 0
    for seq in itertools.count():
        piece = source.read(PART_BYTES)
        if not piece and seq:
            return size
        db.session.execute(table.insert().values(run_id=run_id, seq=seq, data=piece))
        size += len(piece)
        if len(piece) < PART_BYTES:
            return size


def content_pieces(run):
    """A finished run's file, a piece at a time, each read when it is wanted by a query of its
    own in an app context of its own: a download is sent after its request has ended, and holds
    one piece, not the file."""
    app, run_id = current_app._get_current_object(), run.id

    def pieces():
        seq = -1
        while True:
            with app.app_context():
                row = db.session.execute(
                    select(BackgroundRunPart.seq, BackgroundRunPart.data)
                    .where(BackgroundRunPart.run_id == run_id, BackgroundRunPart.seq > seq)
                    .order_by(BackgroundRunPart.seq).limit(1)).first()
            if row is None:
                return
            seq = row.seq
            yield bytes(row.data)
    return pieces()


def fail(run_id, error, *, now=None):
    """Mark a running run failed (its work was rolled back)."""
    now = now or utcnow()
    seen = _read_file(run_id) or {}
    values = dict(state="failed", finished_at=now, error=str(error)[:2000])
    if seen:
        values.update(rows_done=seen["done"], errors_so_far=seen["errors"], stage=seen["stage"])
    db.session.execute(update(BackgroundRun).where(BackgroundRun.id == run_id,
                                                   BackgroundRun.state == "running")
                       .values(**values).execution_options(synchronize_session=False))
    _drop_file(run_id)


def fail_stale(now=None):
    """Mark failed every running run whose worker stopped beating; returns how many."""
    now = now or utcnow()
    count = 0
    for run in db.session.scalars(select(BackgroundRun).where(
            BackgroundRun.state == "running")).all():
        if status_of(run, now).stale:
            fail(run.id, _("The run stopped (the worker was restarted or the machine went "
                           "down): nothing was written. Start it again."), now=now)
            count += 1
    return count


def restart(run, *, actor, now=None):
    """Start a failed (or dead) run again: a new run of the same kind, batch and parameters."""
    now = now or utcnow()
    if run.state == "running" and status_of(run, now).stale:
        fail(run.id, _("The run stopped (the worker was restarted or the machine went down): "
                       "nothing was written. Start it again."), now=now)
        db.session.refresh(run)
    if run.state != "failed":
        raise Conflict(_("Only a run that failed can be started again."))
    return enqueue(run.kind, actor=actor, batch_id=run.batch_id, params=run.params,
                   rows_total=run.rows_total, now=now)


# --- Progress, outside the work's transaction ---------------------------------------------------

class Progress:
    """The callback an operation calls as it goes: ``progress(done, errors, stage=…)``. Writes
    the run's progress and heartbeat at most every PROGRESS_SECONDS (and when a stage ends), in
    a transaction of its own (PostgreSQL) or a file (SQLite)."""

    def __init__(self, run, *, seconds=None):
        self.run_id, self.total = run.id, run.rows_total
        self.seconds = PROGRESS_SECONDS if seconds is None else seconds
        self.stage, self.last = run.kind_def.stages[0], 0.0

    def __call__(self, done, errors=0, *, stage=None):
        stage = stage or self.stage
        now = clock.monotonic()
        if stage == self.stage and done < self.total and now - self.last < self.seconds:
            return
        self.stage, self.last = stage, now
        write_progress(self.run_id, stage=stage, done=done, errors=errors)


def _sqlite():
    return db.engine.dialect.name == "sqlite"


def _file(run_id):
    return os.path.join(current_app.config["INSTANCE_DIR"], "runs", f"{int(run_id)}.json")


def write_progress(run_id, *, stage, done, errors, now=None):
    """Rows done, errors so far and the heartbeat of a running run, visible to other sessions
    at once while the run's own transaction stays open."""
    now = now or utcnow()
    if _sqlite():
        path = _file(run_id)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path + ".tmp", "w", encoding="utf-8") as out:
            json.dump({"stage": stage, "done": done, "errors": errors,
                       "beat": now.isoformat()}, out)
        os.replace(path + ".tmp", path)
        return
    with db.engine.begin() as connection:
        connection.execute(update(BackgroundRun).where(BackgroundRun.id == run_id,
                                                       BackgroundRun.state == "running")
                           .values(stage=stage, rows_done=done, errors_so_far=errors,
                                   heartbeat_at=now))


def _read_file(run_id):
    if not _sqlite():
        return None
    try:
        with open(_file(run_id), encoding="utf-8") as source:
            return json.load(source)
    except (OSError, ValueError):
        return None


def _drop_file(run_id):
    if _sqlite():
        try:
            os.remove(_file(run_id))
        except OSError:
            pass
