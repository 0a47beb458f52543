"""The profit report (利润报表) on screen, in print and as .xlsx (a sheet per breakdown), and the
records behind each counted figure, within the user's scope."""
from flask import render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from blueprints.access import role_required
from blueprints.files import file_name, send_download
from blueprints.reports.performance import filter_choices
from blueprints.reports.routes import bp
from formatting import fen, parse_id
from models.base import InvalidInput, NotFound
from reports import profit
from reports.params import parse
from reports.xlsx import write_sheets

PROFIT = ("admin", "manager", "finance", "dept_head", "marketer")


def _params():
    """(params, None) or (None, the filter page with the message, 422)."""
    try:
        return parse(request.args, current_user), None
    except InvalidInput as exc:
        departments, marketers = filter_choices()
        return None, (render_template("reports/profit.html", data=None, error=exc.message,
                                      departments=departments, marketers=marketers,
                                      args=request.args), 422)


@bp.get("/profit")
@role_required(*PROFIT)
def profit_view():
    params, refused = _params()
    if refused:
        return refused
    departments, marketers = filter_choices()
    return render_template("reports/profit.html", data=profit.gather(params), error=None,
                           departments=departments, marketers=marketers, args=request.args)


@bp.get("/profit.pdf")
@role_required(*PROFIT)
def profit_pdf():
    params, refused = _params()
    if refused:
        return refused
    pdf = profit.build(profit.gather(params), printed_by=current_user.display_name)
    return send_download(pdf, file_name(_("Profit report"), params.start, ext=".pdf"))


@bp.get("/profit.xlsx")
@role_required(*PROFIT)
def profit_xlsx():
    """A sheet per breakdown: its rows and the total (money in yuan, margin in percent)."""
    params, refused = _params()
    if refused:
        return refused
    data = profit.gather(params)
    labels = data["labels"]

    def cells(row, keys):
        return [("" if row[k] is None else row[k]) if k in ("units", "margin_pct") else
                round(row[k] / 100, 2) for k in keys]
    sheets = []
    for table in data["tables"]:
        keys = table["figures"]
        headers = [table["column"], _("Detail")] + [labels[k] for k in keys]
        rows = [[row["name"], row["detail"]] + cells(row, keys) for row in table["rows"]]
        rows.append([_("Total"), ""] + cells(data["total"], keys))
        sheets.append((table["heading"], headers, rows))
    return send_download(write_sheets(sheets),
                         file_name(_("Profit report"), params.start, ext=".xlsx"))


@bp.get("/profit/rows")
@role_required(*PROFIT)
def profit_rows():
    """The records behind one figure: ?figure=sales|units|cogs|gifts|points&by=product|event|
    marketer|department|all&id=<id or none>, with the report's own filters."""
    figure, by = request.args.get("figure", ""), request.args.get("by", "")
    if figure not in profit.LISTED.get(by, ()):
        raise NotFound(_("Not found, or not yours to see."))
    raw = request.args.get("id", "")
    key = None if raw in ("", "none") else parse_id(raw)
    if raw not in ("", "none") and key is None:
        raise NotFound(_("Not found, or not yours to see."))
    params, refused = _params()
    if refused:
        return refused
    found, more = profit.rows_behind(params, figure, by, key)
    label = profit.labels()[figure]
    return render_template(
        "reports/rows.html", figure={"label": label, "money": figure != "units"},
        heading=f"{label} · {profit.row_name(by, key)}", params=params, found=found, more=more,
        back=url_for("reports.profit_view", **params.as_args()), fen=fen)
