"""Event ROI (会议效果) on screen, in print and as .xlsx: the list of events, one event's report,
and the rows behind its figures (orders, guests, redemptions), each within the user's scope."""
from flask import render_template, request
from flask_babel import gettext as _
from flask_login import current_user

from blueprints.access import role_required
from blueprints.files import file_name, send_download
from blueprints.forms import id_arg, paginate
from blueprints.reports.routes import bp
from models.base import InvalidInput, NotFound
from models.customers import Customer, visible_customers
from models.events import visible_invitations
from models.orders import visible_orders
from reports import event_roi
from reports.params import parse
from reports.xlsx import write_workbook

ROI = ("admin", "manager", "finance", "dept_head")


def _params(event_id):
    """Params for one event within the user's scope (out of scope: NotFound, a 404)."""
    return parse({"event": str(event_id)}, current_user)


@bp.get("/events")
@role_required(*ROI)
def events():
    """Events in scope (kind, status, period) with their headline figures."""
    since = until = None
    error, status = None, 200
    if request.args.get("start") or request.args.get("end"):
        try:
            params = parse({k: request.args.get(k, "") for k in ("start", "end")},
                           current_user)
            since, until = params.since, params.until
        except InvalidInput as exc:
            error, status = exc.message, 422
    page = paginate(event_roi.events_query(current_user, kind=request.args.get("kind", ""),
                                           status=request.args.get("status", ""),
                                           since=since, until=until), 30)
    return render_template("reports/events.html", page=page, error=error,
                           figures=event_roi.headlines(page.items), args=request.args,
                           when=event_roi.when), status


@bp.get("/events/<int:event_id>", endpoint="event_roi")
@role_required(*ROI)
def event_roi_view(event_id):
    # (Named apart from its endpoint so that it does not shadow the reports.event_roi module.)
    data = event_roi.gather(_params(event_id))
    return render_template("reports/event_roi.html", data=data, drill=None)


@bp.get("/events/<int:event_id>.pdf")
@role_required(*ROI)
def event_roi_pdf(event_id):
    pdf = event_roi.build(event_roi.gather(_params(event_id)))
    return send_download(pdf, file_name(_("Event ROI"), event_id, ext=".pdf"))


@bp.get("/events/<int:event_id>.xlsx")
@role_required(*ROI)
def event_roi_xlsx(event_id):
    """The per-marketer table: the funnel and the money (yuan), with the event's total."""
    data = event_roi.gather(_params(event_id))
    keys = event_roi.FUNNEL + event_roi.MONEY
    labels = {**data["funnel_labels"], **data["money_labels"]}
    headers = [_("Marketer"), _("Department")] + [labels[key] for key in keys]

    def line(row, name, department):
        return [name, department] + [round(row[k] / 100, 2) if k in event_roi.MONEY else row[k]
                                     for k in keys]
    rows = [line(r, r["name"], r["department"]) for r in data["rows"]]
    if data["others"]:
        rows.append(line(data["others"], data["others"]["name"], ""))
    rows.append(line(data["total"], _("Event total"), ""))
    return send_download(write_workbook(_("Event ROI"), headers, rows),
                         file_name(_("Event ROI"), event_id, ext=".xlsx"))


def _drill(event_id, what, allowed):
    """(params, the report's data) for a list of the rows behind a figure."""
    if what not in allowed:
        raise NotFound(_("Not found, or not yours to see."))
    params = _params(event_id)
    return params, event_roi.gather(params)


def _marketer_name(data, marketer_id):
    if marketer_id is None:
        return None
    return next((r["name"] for r in data["rows"] if r["id"] == marketer_id), "—")


@bp.get("/events/<int:event_id>/orders")
@role_required(*ROI)
def event_orders(event_id):
    """The orders behind a figure: ?what=bought|paid|orders|arrears&marketer=<id>."""
    what, marketer_id = request.args.get("what", ""), id_arg("marketer")
    params, data = _drill(event_id, what, event_roi.ORDER_ROWS)
    found = event_roi.order_rows(params.event, visible_orders(current_user), what=what,
                                 marketer_id=marketer_id)
    return render_template("reports/event_roi.html", data=data, drill={
        "kind": "orders", "what": what, "marketer": _marketer_name(data, marketer_id),
        "found": found})


@bp.get("/events/<int:event_id>/guests")
@role_required(*ROI)
def event_guests(event_id):
    """The invitations behind a funnel figure: ?what=invited|confirmed|arrived|walk_ins."""
    what, marketer_id = request.args.get("what", ""), id_arg("marketer")
    params, data = _drill(event_id, what, event_roi.GUEST_ROWS)
    found = event_roi.guest_rows(params.event, visible_invitations(current_user, params.event),
                                 what=what, marketer_id=marketer_id)
    return render_template("reports/event_roi.html", data=data, drill={
        "kind": "guests", "what": what, "marketer": _marketer_name(data, marketer_id),
        "found": found})


@bp.get("/events/<int:event_id>/redemptions")
@role_required(*ROI)
def event_redemptions(event_id):
    """The points redemptions at the event (the points cost)."""
    params, data = _drill(event_id, "points", ("points",))
    found = event_roi.redemption_rows(params.event, visible_customers(
        current_user).with_only_columns(Customer.id))
    return render_template("reports/event_roi.html", data=data, drill={
        "kind": "redemptions", "what": "points", "marketer": None, "found": found})
