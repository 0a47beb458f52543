"""Opening balances (期初): templates, upload, columns, dry run, confirm (all or nothing, or
the good rows with the bad ones to download), the import records and a rollback."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.file import FileAllowed, FileField, FileRequired
from flask_babel import lazy_gettext as _l
from wtforms import RadioField

from blueprints.access import role_required
from blueprints.files import file_name, send_download
from blueprints.forms import BaseForm, attempt, choices
from models import background, opening
from models.settings import get_setting
from reports import xlsx

bp = Blueprint("opening", __name__, url_prefix="/opening")
ROLES = opening.OPENING_ROLES
RUNS = ("opening_dry_run", "opening_import")


class UploadForm(BaseForm):
    file = FileField(_l("Spreadsheet (.xlsx)"), validators=[
        FileRequired(_l("Choose an .xlsx file.")),
        FileAllowed(["xlsx"], _l("Only .xlsx spreadsheets can be imported."))])


class ConfirmForm(BaseForm):
    mode = RadioField(_l("How to import"), choices=choices(opening.MODES.items()),
                      default="all")


@bp.get("/")
@role_required(*ROLES)
def index():
    batches = opening.batches()
    runs = {}
    for run in background.runs_for(RUNS, [b.id for b in batches]):
        runs.setdefault(run.batch_id, run)  # the newest
    return render_template("opening/index.html", kinds=opening.KINDS.values(),
                           batches=batches, runs=runs, form=UploadForm())


@bp.get("/<code>/template.xlsx")
@role_required(*ROLES)
def template(code):
    kind = opening.kind_or_404(code)
    headers, example = opening.template_rows(kind)
    return send_download(xlsx.write_workbook(str(kind.label), headers, [example]),
                         file_name(_("Opening balances template"), str(kind.label), ext=".xlsx"))


@bp.post("/<code>/upload")
@role_required(*ROLES)
def upload(code):
    kind = opening.kind_or_404(code)
    form = UploadForm()
    if form.validate_on_submit():
        file = form.file.data
        with attempt(form) as tried:
            batch = opening.upload(kind, file.filename, file.read(), actor=current_user)
        if not tried.refusal:
            return redirect(url_for("opening.columns", token=batch.token))
    for error in [*form.file.errors, *form.form_errors]:
        flash(str(error), "danger")
    return render_template("opening/index.html", kinds=opening.KINDS.values(),
                           batches=opening.batches(), form=form, failed=kind.code), 422


@bp.route("/batch/<token>/columns", methods=["GET", "POST"])
@role_required(*ROLES)
def columns(token):
    batch = opening.batch_or_404(token, current_user)
    if batch.status != "uploaded":
        return redirect(url_for("opening.preview", token=token))
    kind = opening.KINDS[batch.kind]
    form, error = BaseForm(), None
    if form.validate_on_submit():
        mapping = {}
        for f in kind.fields:
            value = request.form.get(f"col_{f.key}", "")
            if value.isdecimal() and value.isascii() and len(value) <= 4:
                mapping[f.key] = int(value)
        with attempt() as tried:
            opening.set_mapping(batch, mapping)
            run = _enqueue(batch, "opening_dry_run") if _large(batch) else None
        if not tried.refusal:
            return redirect(url_for("runs.show", token=run.token) if run is not None
                            else url_for("opening.preview", token=token))
        error = tried.refusal.message
    return render_template("opening/columns.html", batch=batch, kind=kind, form=form,
                           error=error), 422 if error else 200


@bp.route("/batch/<token>", methods=["GET", "POST"])
@role_required(*ROLES)
def preview(token):
    batch = opening.batch_or_404(token, current_user)
    kind = opening.KINDS[batch.kind]
    if batch.status != "uploaded":
        return render_template("opening/done.html", batch=batch, kind=kind, form=BaseForm())
    if not batch.mapping:
        return redirect(url_for("opening.columns", token=token))
    if _large(batch):
        return _large_preview(batch, kind)
    form, error = ConfirmForm(), None
    if form.validate_on_submit():
        with attempt() as tried:
            result = opening.confirm(batch, mode=form.mode.data, actor=current_user)
        if not tried.refusal:
            flash(_("%(n)s rows imported.", n=result["imported"]), "success")
            return redirect(url_for("opening.preview", token=token))
        error = tried.refusal.message
    results = opening.dry_run(batch, actor=current_user)
    return render_template("opening/preview.html", batch=batch, kind=kind, form=form,
                           results=results, counts=opening.summarise(results),
                           error=error), 422 if error else 200


def _large(batch):
    return batch.row_count > get_setting("imports.background_rows")


def _enqueue(batch, kind, **params):
    return background.enqueue(kind, actor=current_user, batch_id=batch.id,
                              rows_total=batch.row_count,
                              params={"mapping": batch.mapping, **params})


def _large_preview(batch, kind):
    """A large file: its dry run and its import are background runs (models/background.py);
    the page shows the finished dry run's rows worth a look and queues the import."""
    latest = background.latest_run(RUNS, batch.id)
    if latest is not None and latest.state in ("queued", "running") and \
            not background.status_of(latest).stale:
        return redirect(url_for("runs.show", token=latest.token))
    form = ConfirmForm()
    if form.validate_on_submit():
        with attempt():
            run = _enqueue(batch, "opening_dry_run") if request.form.get("action") == "check" \
                else _enqueue(batch, "opening_import", mode=form.mode.data)
        return redirect(url_for("runs.show", token=run.token))
    checked = background.latest_run(RUNS[:1], batch.id)
    if checked is None or checked.state != "done" or \
            checked.result.get("mapping") != batch.mapping:
        return render_template("opening/large.html", batch=batch, kind=kind, form=form,
                               failed=checked if checked and checked.state == "failed"
                               else None)
    error = latest.error if latest.kind == "opening_import" and latest.state == "failed" \
        else None
    return render_template("opening/preview.html", batch=batch, kind=kind, form=form,
                           results=checked.result["rows"], counts=checked.result["counts"],
                           error=error, checked=checked), 422 if error else 200


@bp.get("/batch/<token>/bad.xlsx")
@role_required(*ROLES)
def bad_rows(token):
    batch = opening.batch_or_404(token, current_user)
    header, *rows = opening.bad_rows(batch)
    return send_download(xlsx.write_workbook(_("Rows to fix"), header, rows),
                         file_name(_("Rows to fix"), batch.filename.rsplit(".", 1)[0],
                                   ext=".xlsx"))


@bp.post("/batch/<token>/rollback")
@role_required(*ROLES)
def rollback(token):
    batch = opening.batch_or_404(token, current_user)
    form = BaseForm()
    if form.validate_on_submit():
        with attempt(flash=True) as tried:
            count = opening.rollback(batch, actor=current_user)
        if not tried.refusal:
            flash(_("The import was rolled back: %(n)s rows reversed.", n=count), "success")
    return redirect(url_for("opening.preview", token=token))
