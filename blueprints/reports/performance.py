"""Performance reports on screen, in print and as .xlsx: marketer / department (each marketer a
row, the department's average, rank, totals and the period before), the company summary, and
the rows behind each figure."""
from flask import render_template, request
from flask_babel import gettext as _
from flask_login import current_user

from blueprints.access import role_required
from blueprints.files import file_name, send_download
from blueprints.reports.routes import bp
from extensions import db
from formatting import fen
from models.accounts import User
from models.base import InvalidInput, NotFound
from models.scoping import visible_users
from reports import performance
from reports.params import parse, visible_departments
from reports.xlsx import write_workbook

PERFORMANCE = ("admin", "manager", "finance", "dept_head", "marketer")
COMPANY = ("admin", "manager", "finance")


def filter_choices():
    """(departments, marketers) the user may filter a report by."""
    departments = db.session.scalars(visible_departments(current_user)).all()
    marketers = [u for u in db.session.scalars(visible_users(current_user).where(
        User.is_active.is_(True)).order_by(User.display_name)) if u.has_role("marketer")]
    return departments, marketers


def _params(template, **context):
    """(params, None) or (None, the filter page with the message, 422)."""
    try:
        return parse(request.args, current_user), None
    except InvalidInput as exc:
        departments, marketers = filter_choices()
        return None, (render_template(template, data=None, error=exc.message,
                                      departments=departments, marketers=marketers,
                                      args=request.args, **context), 422)


@bp.get("/")
@role_required(*PERFORMANCE)
def index():
    return render_template("reports/index.html")


@bp.get("/performance")
@role_required(*PERFORMANCE)
def performance_view():
    params, refused = _params("reports/performance.html")
    if refused:
        return refused
    departments, marketers = filter_choices()
    return render_template("reports/performance.html", data=performance.gather(params),
                           error=None, departments=departments, marketers=marketers,
                           args=request.args)


@bp.get("/performance.pdf")
@role_required(*PERFORMANCE)
def performance_pdf():
    params, refused = _params("reports/performance.html")
    if refused:
        return refused
    pdf = performance.build(performance.gather(params), printed_by=current_user.display_name)
    return send_download(pdf, file_name(_("Performance"), params.start, ext=".pdf"))


@bp.get("/performance.xlsx")
@role_required(*PERFORMANCE)
def performance_xlsx():
    params, refused = _params("reports/performance.html")
    if refused:
        return refused
    data = performance.gather(params)
    headers = [_("Department"), _("Marketer"), _("Rank")] + [f["label"] for f in data["figures"]]
    rows = [[r["department"], r["name"], f'{r["rank"]}/{r["of"]}'] +
            [_cell(r["values"][f["key"]], f) for f in data["figures"]] for r in data["rows"]]
    rows.append([_("Total"), "", ""] + [_cell(data["total"][f["key"]], f)
                                        for f in data["figures"]])
    return send_download(write_workbook(_("Performance"), headers, rows),
                         file_name(_("Performance"), params.start, ext=".xlsx"))


def _cell(value, figure):
    if value is None:
        return ""
    return round(value / 100, 2) if figure["money"] else value


@bp.get("/company")
@role_required(*COMPANY)
def company():
    params, refused = _params("reports/company.html")
    if refused:
        return refused
    return render_template("reports/company.html", data=performance.gather_company(params),
                           error=None, args=request.args)


@bp.get("/company.pdf")
@role_required(*COMPANY)
def company_pdf():
    params, refused = _params("reports/company.html")
    if refused:
        return refused
    data = performance.gather_company(params)
    pdf = performance.build({**data, "company": True}, printed_by=current_user.display_name)
    return send_download(pdf, file_name(_("Company report"), params.start, ext=".pdf"))


@bp.get("/rows/<key>")
@role_required(*PERFORMANCE)
def rows(key):
    """The records behind one figure of one marketer, within the user's scope."""
    figure = performance.BY_KEY.get(key)
    if figure is None or not figure.rows:
        raise NotFound(_("Not found, or not yours to see."))
    params, refused = _params("reports/performance.html")
    if refused:
        return refused
    marketer = params.marketer
    if marketer is None:
        raise NotFound(_("Not found, or not yours to see."))
    found = performance.rows_behind(params, key, marketer.id)
    return render_template("reports/rows.html", figure=figure, marketer=marketer,
                           params=params, found=found, fen=fen)
