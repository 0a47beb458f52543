"""The worker of background runs (models/background.py says what a run is and why).

work() claims queued runs one at a time, each claim in a short transaction of its own, and runs
each in one work transaction that ends by marking it done — or, on any error, rolls everything
back and marks it failed with the message (a refusal such as "3 rows are invalid" is shown to
the clerk as it is). Before claiming it marks failed the runs whose worker died. The scheduler
process calls work() every few seconds; `flask --app app jobs work` calls it until the queue is
empty. This module also registers what the import kinds do; the export registers itself
(reports/customer_export.py).
"""
import gc
import logging
import time as clock
from contextlib import contextmanager, nullcontext

from flask_babel import gettext as _

from extensions import db
from jobs import worklists
from models import background, customer_import, opening
from models.accounts import User
from models.base import OperationError, begin_write, utcnow
from models.clock import local_day

logger = logging.getLogger(__name__)

#: Rows of a dry run kept for its page (the rows worth showing: every bad or duplicate one and
#: the first of the good ones).
KEPT_ROWS = 2000
FIRST_ROWS = 200


def work(app, *, limit=None):
    """Work the queue until it is empty (or `limit` runs); returns how many runs were worked."""
    worked = 0
    while limit is None or worked < limit:
        with app.app_context():
            try:
                begin_write()
                background.fail_stale()
                run_id = background.claim_next()
                db.session.commit()
            finally:
                db.session.remove()
        if run_id is None:
            break
        run_one(app, run_id)
        worked += 1
    return worked


def run_one(app, run_id):
    """Run one claimed run in its own transaction; True when it ended done."""
    with app.app_context():
        started = clock.monotonic()
        try:
            begin_write()
            run = db.session.get(background.BackgroundRun, run_id)
            actor = db.session.get(User, run.created_by_id)
            progress = background.Progress(run)
            with _older_objects_set_aside():
                outcome = background.HANDLERS[run.kind](run, actor=actor, progress=progress)
            result, content = outcome if isinstance(outcome, tuple) else (outcome, None)
            with content if hasattr(content, "close") else nullcontext():
                background.finish(run, result, content=content)
            db.session.commit()
        except Exception as error:
            db.session.rollback()
            if isinstance(error, OperationError):
                message = str(error.message)
                logger.info("Background run %s refused: %s", run_id, message)
            else:
                message = str(_unexpected())
                logger.exception("Background run %s failed", run_id)
            begin_write()
            background.fail(run_id, message)
            db.session.commit()
            return False
        finally:
            db.session.remove()
        logger.info("Background run %s done in %.2fs", run_id, clock.monotonic() - started)
        return True


@contextmanager
def _older_objects_set_aside():
    """The objects alive before the run (the app and its modules: some two hundred MB) left
    out of the garbage collector's full passes while it runs, and given back after (nothing
    kept for good). A run of 100,000 rows makes and keeps enough objects for several full
    passes, each over all of them: a fifth of an import of 10,000 rows went in them."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _unexpected():
    return _("The run failed on an unexpected error: nothing was written. Start it again; if "
             "it fails again, tell the administrator.")


# --- What each import kind does ------------------------------------------------------------------

def _row(result, **extra):
    return {"number": result.number, "status": result.status, "message": str(result.message),
            **extra}


def customer_dry_run(run, *, actor, progress):
    """The rows checked a chunk at a time, only those the page shows kept (a file of 100,000
    rows is never held whole)."""
    batch = db.session.get(customer_import.ImportBatch, run.batch_id)
    counts, rows, n = customer_import.summarise([]), [], 0
    for chunk in customer_import.check_rows(batch, actor=actor, progress=progress,
                                             writing=False):
        for key, count in customer_import.summarise(chunk).items():
            counts[key] += count
        for r in chunk:
            if len(rows) < KEPT_ROWS and (r.status != "create" or n < FIRST_ROWS or r.notes):
                rows.append(_row(r, name=r.name, phone=r.phone, existing_id=r.existing_id,
                                 notes=[str(note) for note in r.notes]))
            n += 1
    return {"counts": counts, "rows": rows, "mapping": batch.mapping,
            "errors": counts["invalid"]}


def customer_confirm(run, *, actor, progress):
    batch = db.session.get(customer_import.ImportBatch, run.batch_id)
    counts = customer_import.confirm(batch, actor=actor, progress=progress)
    # A birthday within the care lead gets its task today, not never.
    worklists.care(local_day(utcnow()), customer_ids=counts["ids"])
    return {"created": counts["create"], "duplicates": counts["duplicate"], "errors": 0}


def opening_dry_run(run, *, actor, progress):
    """The rows checked a chunk at a time, only those the page shows kept (every row not to
    import, and the first ones that are)."""
    batch = db.session.get(opening.OpeningBatch, run.batch_id)
    counts, rows, n = opening.summarise([]), [], 0
    for chunk in opening.check_rows(batch, actor=actor, progress=progress):
        for key, count in opening.summarise(chunk).items():
            counts[key] += count
        for r in chunk:
            if len(rows) < KEPT_ROWS and (r.status != "import" or n < FIRST_ROWS):
                rows.append(_row(r, cells=r.cells))
            n += 1
    return {"counts": counts, "mapping": batch.mapping, "errors": counts["invalid"],
            "rows": rows}


def opening_confirm(run, *, actor, progress):
    batch = db.session.get(opening.OpeningBatch, run.batch_id)
    result = opening.confirm(batch, mode=run.params.get("mode", "all"), actor=actor,
                             progress=progress)
    return {"imported": result["imported"], "repeated": result["repeated"],
            "invalid": result["invalid"], "errors": result["invalid"]}


background.register_handler("customer_import_dry_run", customer_dry_run)
background.register_handler("customer_import", customer_confirm)
background.register_handler("opening_dry_run", opening_dry_run)
background.register_handler("opening_import", opening_confirm)
