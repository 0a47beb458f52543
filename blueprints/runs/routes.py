"""Background runs (models/background.py): the progress page of a large import or export — rows
done of total, errors so far, time left, refreshed by htmx every 2 s —, starting a failed run
again, and an export's workbook. A run is its creator's: another user's is a 404."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from blueprints.files import Pieces, file_name, send_download
from blueprints.forms import BaseForm, attempt
from extensions import db
from models import background

bp = Blueprint("runs", __name__, url_prefix="/runs")

#: Where a finished run's outcome is read: kind → (endpoint, the batch's token attribute).
OUTCOMES = {"customer_import_dry_run": "customers.import_preview",
            "customer_import": "customers.import_preview",
            "opening_dry_run": "opening.preview", "opening_import": "opening.preview"}


def outcome_url(run):
    """The page that shows what a finished run did (None for an export: it is downloaded)."""
    endpoint = OUTCOMES.get(run.kind)
    if endpoint is None:
        return None
    if endpoint.startswith("customers."):
        from models.customer_import import ImportBatch as Batch
    else:
        from models.opening import OpeningBatch as Batch
    batch = db.session.get(Batch, run.batch_id)
    return url_for(endpoint, token=batch.token) if batch else None


@bp.get("/<token>")
def show(token):
    """The progress page; with HX-Request only its progress card (polled every 2 s)."""
    run = background.run_or_404(token, current_user)
    template = "runs/_progress.html" if request.headers.get("HX-Request") else "runs/show.html"
    return render_template(template, run=run, status=background.status_of(run),
                           outcome=outcome_url(run), form=BaseForm())


@bp.post("/<token>/restart")
def restart(token):
    run = background.run_or_404(token, current_user)
    if not BaseForm().validate_on_submit():
        abort(400)
    with attempt(flash=True) as tried:
        again = background.restart(run, actor=current_user)
    if tried.refusal:
        return redirect(url_for("runs.show", token=token))
    flash(_("Started again."), "success")
    return redirect(url_for("runs.show", token=again.token))


@bp.get("/<token>/download.xlsx")
def download(token):
    """An export's workbook, once the run is done."""
    run = background.run_or_404(token, current_user)
    if run.kind != "customer_export" or run.state != "done":
        abort(404)
    content = Pieces(background.content_pieces(run), run.content_size or 0)
    return send_download(content, file_name(_("Customers"),
                                            f"{run.finished_at:%Y%m%d-%H%M}", ext=".xlsx"))
