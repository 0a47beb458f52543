"""The monthly assessment (考核表, #27 §2) on screen, in print (A4 PDF) and as .xlsx: per
marketer the month's targets against the actual figures, the commission, the bonus and the
deduction the company's rules give, and the total; on screen each figure links to its rows."""
from flask import redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from blueprints.access import role_required
from blueprints.files import file_name, send_download
from blueprints.forms import id_arg
from blueprints.reports.commission import VIEW, _month
from blueprints.reports.routes import bp
from extensions import db
from models import commission as cm, targets as tg
from models.accounts import Department
from models.base import NotFound
from models.scoping import department_subtree_ids, visible_departments
from reports import assessment
from reports.xlsx import write_workbook


def _scope():
    """(month, department or None, marketers) of the request, within the user's scope: a
    department asked for (a head's own by default), else every marketer the user may see."""
    month = _month()
    if month is None:
        return None, None, None
    department, ids = None, None
    department_id = id_arg("department")
    if department_id is None and current_user.has_role("dept_head") and \
            not current_user.has_role(*cm.ALL_MARKETERS) and current_user.department_id:
        department_id = current_user.department_id
    if department_id is not None:
        department = db.session.scalar(visible_departments(current_user).where(
            Department.id == department_id))
        if department is None:
            raise NotFound(_("Not found, or not yours to see."))
        ids = department_subtree_ids(department.id)
    return month, department, cm.marketers_seen(current_user, ids)


@bp.get("/assessment")
@role_required(*VIEW)
def assessment_view():
    month, department, marketers = _scope()
    if month is None:
        return redirect(url_for("reports.assessment_view"))
    data = assessment.gather(current_user, month, marketers)
    return render_template("reports/assessment.html", data=data, month=month,
                           department=department, end=tg.period_end("month", month),
                           departments=db.session.scalars(
                               visible_departments(current_user)).all()
                           if current_user.has_role(*cm.ALL_MARKETERS, "dept_head") else [],
                           previous=cm.previous_month(month), following=cm.next_month(month),
                           label=cm.month_label, statuses=cm.RUN_STATUSES, args=request.args)


@bp.get("/assessment.pdf")
@role_required(*VIEW)
def assessment_pdf():
    month, department, marketers = _scope()
    if month is None:
        return redirect(url_for("reports.assessment_view"))
    data = assessment.gather(current_user, month, marketers)
    if department is not None:
        data["scope"] = department.name
    pdf = assessment.build(data, printed_by=current_user.display_name)
    return send_download(pdf, file_name(_("Monthly assessment"), cm.month_label(month), ext=".pdf"))


@bp.get("/assessment.xlsx")
@role_required(*VIEW)
def assessment_xlsx():
    month, _department, marketers = _scope()
    if month is None:
        return redirect(url_for("reports.assessment_view"))
    headers, rows = assessment.xlsx_rows(assessment.gather(current_user, month, marketers))
    return send_download(write_workbook(_("Monthly assessment"), headers, rows),
                         file_name(_("Monthly assessment"), cm.month_label(month), ext=".xlsx"))
