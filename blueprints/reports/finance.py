"""The finance report on screen, in print and as .xlsx (receipts by day and method)."""
from flask import render_template, request
from flask_babel import gettext as _
from flask_login import current_user

from blueprints.access import role_required
from blueprints.files import file_name, send_download
from blueprints.reports.routes import bp
from extensions import db
from models.base import InvalidInput
from reports import finance
from reports.params import parse, visible_departments
from reports.xlsx import write_workbook

FINANCE = ("admin", "manager", "finance", "dept_head")


def _params():
    try:
        return parse(request.args, current_user, default="month"), None
    except InvalidInput as exc:
        return None, (render_template("reports/finance.html", data=None, error=exc.message,
                                      departments=_departments(), args=request.args), 422)


def _departments():
    return db.session.scalars(visible_departments(current_user)).all()


@bp.get("/finance")
@role_required(*FINANCE)
def finance_view():
    params, refused = _params()
    if refused:
        return refused
    return render_template("reports/finance.html", data=finance.gather(params), error=None,
                           departments=_departments(), args=request.args)


@bp.get("/finance.pdf")
@role_required(*FINANCE)
def finance_pdf():
    params, refused = _params()
    if refused:
        return refused
    pdf = finance.build(finance.gather(params), printed_by=current_user.display_name)
    return send_download(pdf, file_name(_("Finance report"), params.start, ext=".pdf"))


@bp.get("/finance.xlsx")
@role_required(*FINANCE)
def finance_xlsx():
    params, refused = _params()
    if refused:
        return refused
    data = finance.gather(params)
    methods = data["methods"]
    headers = [_("Day")] + [label for _code, label in methods] + [_("Total")]
    rows = [[day] + [values.get(code, 0) / 100 for code, _label in methods] +
            [sum(values.values()) / 100] for day, values in data["receipts"]]
    return send_download(write_workbook(_("Receipts"), headers, rows),
                         file_name(_("Receipts"), params.start, ext=".xlsx"))
