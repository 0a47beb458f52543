"""Channel ROI (渠道效果) on screen, in print and as .xlsx: per source channel, the campaign costs
of the period's months against what the customers it brought in bought, beside the events'."""
from flask import render_template, request
from flask_babel import gettext as _
from flask_login import current_user

from blueprints.access import role_required
from blueprints.files import file_name, send_download
from blueprints.reports.routes import bp
from models.base import InvalidInput
from reports import channel_roi
from reports.params import parse
from reports.xlsx import write_workbook

#: The report covers every customer of the company.
CHANNEL_ROI = ("admin", "manager", "finance")


def _params():
    """(params, None) or (None, the page with the message, 422)."""
    try:
        return parse({k: request.args.get(k, "") for k in ("start", "end")}, current_user), None
    except InvalidInput as exc:
        return None, (render_template("reports/channel_roi.html", data=None, error=exc.message,
                                      args=request.args), 422)


@bp.get("/channels", endpoint="channel_roi")
@role_required(*CHANNEL_ROI)
def channel_roi_view():
    params, refused = _params()
    if refused:
        return refused
    return render_template("reports/channel_roi.html", data=channel_roi.gather(params),
                           error=None, args=request.args)


@bp.get("/channels.pdf")
@role_required(*CHANNEL_ROI)
def channel_roi_pdf():
    params, refused = _params()
    if refused:
        return refused
    data = channel_roi.gather(params)
    return send_download(channel_roi.build(data),
                         file_name(_("Channel ROI"), data["start"], ext=".pdf"))


@bp.get("/channels.xlsx")
@role_required(*CHANNEL_ROI)
def channel_roi_xlsx():
    """One row per channel and the total: counts, money in yuan, ROI in percent."""
    params, refused = _params()
    if refused:
        return refused
    data = channel_roi.gather(params)
    labels = data["labels"]
    keys = channel_roi.KEYS

    def line(row):
        return [row["name"]] + [round(row[k] / 100, 2) if k in channel_roi.MONEY else row[k]
                                for k in keys] + [row["roi"]]
    rows = [line(row) for row in data["rows"]] + [line({**data["total"], "name": _("Total")})]
    headers = [_("Source channel")] + [labels[k] for k in keys] + [labels["roi"] + " %"]
    return send_download(write_workbook(_("Channel ROI"), headers, rows),
                         file_name(_("Channel ROI"), data["start"], ext=".xlsx"))
