"""Every route needs sign-in (except the allow-list), and each role is refused where it has no
business. Adding a route without adding it here fails test_matrix_covers_every_route."""
import pytest

from models.accounts import ROLES
from tests.factories import make_department, make_user

PUBLIC = {"auth.login", "main.healthz", "static", "checkin.service_worker"}

ALL_SIGNED_IN = set(ROLES)
CUSTOMER = {"admin", "manager", "dept_head", "marketer"}
OWNERSHIP = {"admin", "manager", "dept_head"}
DOOR = {"admin", "manager", "event_staff"}
STOCK_VIEW = {"admin", "manager", "warehouse", "finance"}
STOCK_WRITE = {"admin", "manager", "warehouse"}
SELLERS = {"manager", "dept_head", "marketer"}
ORDER_VIEW = SELLERS | {"finance"}
GIFT_VIEW = {"admin", "manager", "dept_head", "warehouse", "finance"}
CUSTODY_VIEW = {"admin", "manager", "warehouse", "finance", "dept_head", "marketer",
                "event_staff"}
TASK_WORKERS = {"manager", "dept_head", "marketer"}
OPENING = {"admin", "manager", "finance"}
POINTS_REDEEM = {"manager", "warehouse", "event_staff", "marketer", "dept_head"}

#: endpoint → roles that may use it. The one statement of who may do what, checked over HTTP.
MATRIX = {
    "main.index": ALL_SIGNED_IN,
    "main.setup_settings_reviewed": {"admin"},
    "main.hide_setup": {"admin"},
    "guide.index": ALL_SIGNED_IN,
    "guide.role": ALL_SIGNED_IN,
    "guide.card": ALL_SIGNED_IN,
    "auth.logout": ALL_SIGNED_IN,
    "auth.password": ALL_SIGNED_IN,
    "auth.preferences": ALL_SIGNED_IN,
    "admin.users": {"admin"},
    "admin.new_user": {"admin"},
    "admin.user": {"admin"},
    "admin.reset_password": {"admin"},
    "admin.deactivate_user": {"admin"},
    "admin.reactivate_user": {"admin"},
    "admin.unlock_user": {"admin"},
    "admin.departments": {"admin"},
    "admin.department": {"admin"},
    "admin.settings": {"admin"},
    "admin.audit": {"admin", "manager"},
    "admin.audit_pdf": {"admin", "manager"},
    "customers.index": CUSTOMER,
    "customers.new": CUSTOMER,
    "customers.show": CUSTOMER,
    "customers.edit": CUSTOMER,
    "customers.add_contact": CUSTOMER,
    "customers.record_intent": CUSTOMER,
    "customers.add_experience": CUSTOMER,
    "customers.strong_intent": CUSTOMER,
    "customers.reveal_phone": CUSTOMER,
    "customers.claim": {"marketer"},
    "customers.bulk": OWNERSHIP,
    "customers.handover": OWNERSHIP,
    "customers.pool": CUSTOMER,
    "customers.export": {"admin", "manager"},  # the default of the export setting
    "customers.import_template": CUSTOMER,
    "customers.import_upload": CUSTOMER,
    "customers.import_map": CUSTOMER,
    "customers.import_preview": CUSTOMER,
    "customers.import_records": CUSTOMER,
    "aftersales.index": CUSTOMER,
    "aftersales.new": CUSTOMER,
    "aftersales.show": CUSTOMER,
    "aftersales.add_note": CUSTOMER,
    "aftersales.assign": CUSTOMER,
    "aftersales.start": CUSTOMER,
    "aftersales.close": CUSTOMER,
    "aftersales.reopen": CUSTOMER,
    "messages.outbox": CUSTOMER,
    "messages.cancel": CUSTOMER,
    "messages.templates": {"admin", "manager"},
    "messages.template": {"admin", "manager"},
    "messages.new_template": {"admin"},
    "messages.save_template": {"admin"},
    "messages.preview": CUSTOMER,
    "messages.event_send": CUSTOMER,
    "messages.event_queue": CUSTOMER,
    "messages.customer_message": CUSTOMER,
    "events.index": CUSTOMER | {"event_staff"},
    "events.show": CUSTOMER | {"event_staff"},
    "events.new": OWNERSHIP,
    "events.edit": OWNERSHIP,
    "events.status": OWNERSHIP,
    "events.add_cost": OWNERSHIP,
    "events.remove_cost": OWNERSHIP,
    "events.add_table": OWNERSHIP,
    "events.staff": OWNERSHIP,
    "events.invitations": CUSTOMER,
    "events.invitation_status": CUSTOMER,
    "events.invite": CUSTOMER,
    "events.bulk_invite": CUSTOMER,
    "events.cards": CUSTOMER,
    "events.card": CUSTOMER,
    "events.card_image": CUSTOMER,
    "events.add_pickup_point": OWNERSHIP,
    "events.remove_pickup_point": OWNERSHIP,
    "events.invitation_pickup": CUSTOMER,
    "events.invitation_intent": CUSTOMER,
    "events.sign_in_sheet": CUSTOMER | {"event_staff"},
    "events.seating_chart": CUSTOMER | {"event_staff"},
    "events.table_cards": CUSTOMER | {"event_staff"},
    "events.pickup_list": CUSTOMER | {"event_staff"},
    "events.seating": OWNERSHIP | {"event_staff"},
    "events.move_guest": OWNERSHIP | {"event_staff"},
    "events.replan_seating": OWNERSHIP,
    "checkin.index": DOOR,
    "checkin.screen": DOOR,
    "checkin.check_in": DOOR,
    "checkin.scan": DOOR,
    "checkin.walk_in": DOOR,
    "checkin.walk_in_known": DOOR,
    "checkin.live_board": DOOR | {"dept_head"},
    "checkin.room": DOOR,
    "checkin.roster": DOOR,
    "checkin.conflicts": DOOR,
    "checkin.replay": DOOR,
    "customers.lists": {"admin", "manager"},
    "customers.toggle_list_item": {"admin", "manager"},
    "customers.channel_costs": {"manager", "finance"},
    "customers.reverse_channel_cost": {"manager", "finance"},
    "orders.index": ORDER_VIEW,
    "orders.arrears": ORDER_VIEW,
    "orders.new": SELLERS,
    "orders.show": ORDER_VIEW,
    "orders.receipt": ORDER_VIEW,
    "orders.summary": ORDER_VIEW,
    "orders.confirm": SELLERS,
    "orders.my_pin": {"manager", "dept_head"},
    "orders.pay": SELLERS | {"finance"},
    "orders.refund": {"manager", "finance"},
    "orders.return_goods": {"manager", "finance"},
    "orders.cancel": SELLERS,
    "orders.reverse_payment": {"finance"},
    "orders.close": {"manager", "finance"},
    "orders.close_pdf": {"manager", "finance"},
    "orders.reopen_close": {"manager"},
    "orders.packages": ORDER_VIEW,
    "orders.new_package": {"manager"},
    "orders.edit_package": {"manager"},
    "points.index": POINTS_REDEEM,
    "points.customer": CUSTODY_VIEW,
    "points.redeem": POINTS_REDEEM,
    "points.adjust": {"manager"},
    "points.redemption": CUSTODY_VIEW,
    "points.slip": CUSTODY_VIEW,
    "points.reverse": {"manager"},
    "points.give_referral_gift": POINTS_REDEEM,
    "points.liability": {"finance", "manager"},
    "custody.index": CUSTODY_VIEW,
    "custody.customer": CUSTODY_VIEW,
    "custody.pick_up": {"warehouse", "manager", "event_staff"},
    "custody.pickup": CUSTODY_VIEW,
    "custody.slip": CUSTODY_VIEW,
    "custody.statement": CUSTODY_VIEW,
    "custody.expiring": {"admin", "manager", "warehouse", "finance"},
    "custody.report": {"admin", "manager", "warehouse", "finance", "dept_head"},
    "custody.reverse": {"warehouse", "manager"},
    "gifts.index": GIFT_VIEW,
    "gifts.event": GIFT_VIEW,
    "gifts.add_rule": {"manager"},
    "gifts.add_company_rule": {"manager"},
    "gifts.toggle_rule": {"manager"},
    "gifts.event_warehouse": {"manager", "admin"},
    "gifts.ledger_xlsx": GIFT_VIEW,
    "gifts.attendance": DOOR | {"marketer", "dept_head", "warehouse"},
    "gifts.desk": DOOR | {"warehouse"},
    "gifts.desk_give": DOOR | {"warehouse"},
    "gifts.purchase": SELLERS | {"finance"},
    "gifts.manual": {"manager"},
    "gifts.reverse": {"warehouse", "manager", "finance"},
    "inventory.index": STOCK_VIEW,
    "inventory.expiry": STOCK_VIEW,
    "inventory.low_stock": STOCK_VIEW,
    "inventory.shortfalls": STOCK_VIEW,
    "inventory.moves": STOCK_VIEW,
    "inventory.products": STOCK_VIEW,
    "inventory.product": STOCK_VIEW,
    "inventory.new_product": STOCK_WRITE,
    "inventory.edit_product": STOCK_WRITE,
    "inventory.warehouses": STOCK_VIEW,
    "inventory.new_warehouse": STOCK_WRITE,
    "inventory.edit_warehouse": STOCK_WRITE,
    "inventory.documents": STOCK_VIEW,
    "inventory.new_document": STOCK_WRITE,
    "inventory.document": STOCK_VIEW,
    "inventory.document_slip": STOCK_VIEW,
    "inventory.reverse_document": STOCK_WRITE,
    "inventory.counts": STOCK_VIEW,
    "inventory.start_count": STOCK_WRITE,
    "inventory.count": STOCK_VIEW,
    "inventory.count_line": STOCK_WRITE,
    "inventory.post_count": STOCK_WRITE,
    "inventory.cancel_count": STOCK_WRITE,
    "tasks.today": TASK_WORKERS,
    "tasks.done": TASK_WORKERS,
    "tasks.done_form": TASK_WORKERS,
    "tasks.skip": TASK_WORKERS,
    "tasks.do_not_call": TASK_WORKERS,
    "tasks.wechat_sent": TASK_WORKERS,
    "tasks.team": {"manager", "dept_head"},
    "tasks.reassign": {"manager", "dept_head"},
    "tasks.birthdays": TASK_WORKERS,
    "tasks.birthdays_pdf": TASK_WORKERS,
    "tasks.job_runs": {"admin"},
    "reports.index": TASK_WORKERS | {"admin", "finance"},
    "reports.performance_view": TASK_WORKERS | {"admin", "finance"},
    "reports.performance_pdf": TASK_WORKERS | {"admin", "finance"},
    "reports.performance_xlsx": TASK_WORKERS | {"admin", "finance"},
    "reports.rows": TASK_WORKERS | {"admin", "finance"},
    "reports.targets": TASK_WORKERS | {"admin", "finance"},
    "reports.edit_targets": {"admin", "manager", "dept_head"},
    "reports.copy_targets": {"admin", "manager", "dept_head"},
    "reports.spread_targets": {"admin", "manager", "dept_head"},
    "reports.commission": TASK_WORKERS | {"admin", "finance"},
    "reports.commission_lines": TASK_WORKERS | {"admin", "finance"},
    "reports.commission_compute": {"manager", "finance"},
    "reports.commission_approve": {"finance"},
    "reports.commission_discard": {"manager", "finance"},
    "reports.commission_rules": {"admin", "manager"},
    "reports.assessment_view": TASK_WORKERS | {"admin", "finance"},
    "reports.assessment_pdf": TASK_WORKERS | {"admin", "finance"},
    "reports.assessment_xlsx": TASK_WORKERS | {"admin", "finance"},
    "reports.profit_view": TASK_WORKERS | {"admin", "finance"},
    "reports.profit_pdf": TASK_WORKERS | {"admin", "finance"},
    "reports.profit_xlsx": TASK_WORKERS | {"admin", "finance"},
    "reports.profit_rows": TASK_WORKERS | {"admin", "finance"},
    "reports.company": {"admin", "manager", "finance"},
    "reports.company_pdf": {"admin", "manager", "finance"},
    "reports.finance_view": {"admin", "manager", "finance", "dept_head"},
    "reports.finance_pdf": {"admin", "manager", "finance", "dept_head"},
    "reports.finance_xlsx": {"admin", "manager", "finance", "dept_head"},
    "reports.events": {"admin", "manager", "finance", "dept_head"},
    "reports.event_roi": {"admin", "manager", "finance", "dept_head"},
    "reports.channel_roi": {"admin", "manager", "finance"},
    "reports.channel_roi_pdf": {"admin", "manager", "finance"},
    "reports.channel_roi_xlsx": {"admin", "manager", "finance"},
    "reports.event_roi_pdf": {"admin", "manager", "finance", "dept_head"},
    "reports.event_roi_xlsx": {"admin", "manager", "finance", "dept_head"},
    "reports.event_orders": {"admin", "manager", "finance", "dept_head"},
    "reports.event_guests": {"admin", "manager", "finance", "dept_head"},
    "reports.event_redemptions": {"admin", "manager", "finance", "dept_head"},
    "opening.index": OPENING,
    "opening.template": OPENING,
    "opening.upload": OPENING,
    "opening.columns": OPENING,
    "opening.preview": OPENING,
    "opening.bad_rows": OPENING,
    "opening.rollback": OPENING,
    "runs.show": ALL_SIGNED_IN,
    "runs.restart": ALL_SIGNED_IN,
    "runs.download": ALL_SIGNED_IN,
}


def routes(app):
    """(endpoint, method, path) for every rule, with ids filled in."""
    values = {"user_id": "1", "department_id": "1", "filename": "css/app.css",
              "customer_id": "1", "token": "00000000-0000-4000-8000-000000000000",
              "kind": "tag", "item_id": "1", "event_id": "1", "invitation_id": "1",
              "cost_id": "1", "product_id": "1", "warehouse_id": "1", "document_id": "1",
              "count_id": "1", "line_id": "1", "order_id": "1", "payment_id": "1",
              "close_id": "1", "package_id": "1", "rule_id": "1", "issue_id": "1",
              "pickup_id": "1", "entry_id": "1", "redemption_id": "1", "task_id": "1", "ticket_id": "1", "key": "sales",
              "reward_id": "1", "point_id": "1", "channel_cost_id": "1", "code": "points",
              "role": "marketer", "template_id": "1", "message_id": "1"}
    out = []
    for rule in app.url_map.iter_rules():
        path = rule.rule
        for arg in rule.arguments:
            for converter in ("int:", "path:", ""):
                path = path.replace(f"<{converter}{arg}>", values[arg])
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            out.append((rule.endpoint, method, path))
    return out


def test_matrix_covers_every_route(app):
    endpoints = {endpoint for endpoint, _, _ in routes(app)}
    assert endpoints - PUBLIC == set(MATRIX), "add new routes to MATRIX (or PUBLIC)"


def test_every_route_but_the_public_ones_needs_sign_in(app, client):
    reachable = set()
    for endpoint, method, path in routes(app):
        response = client.open(path, method=method)
        response.close()
        if response.status_code in (302, 401):
            assert "/auth/login" in response.location
        else:
            reachable.add(endpoint)
    assert reachable == PUBLIC


@pytest.mark.parametrize("role", sorted(ROLES))
def test_role_matrix(app, client, login, db, role):
    department = make_department("总部")
    make_user(["marketer"], department=department)  # gives user_id 1/department_id 1 a target
    me = login(make_user([role], department=department))
    for endpoint, method, path in routes(app):
        if endpoint in PUBLIC or endpoint == "auth.logout":
            continue
        path = path.replace("/users/1", f"/users/{me.id + 100000}")  # no state change
        response = client.open(path, method=method, data={})
        if role in MATRIX[endpoint]:
            assert response.status_code != 403, (endpoint, method)
            assert response.status_code < 500, (endpoint, method)
        else:
            assert response.status_code == 403, (endpoint, method, response.status_code)
    assert client.post("/auth/logout").status_code == 302


def test_templates_name_endpoints_not_roles(app):
    """Permissions are written once, on the route: a template asks can('area.view') (or a
    named rule's roles, e.g. OVERRIDE_ROLES), never a literal list of roles, and every endpoint
    it asks about exists."""
    import re
    from pathlib import Path
    root = Path(app.root_path) / "templates"
    literal, asked = re.compile(r"has_role\(\s*['\"]"), re.compile(r"can\('([\w.]+)'\)")
    offenders, unknown = [], []
    for path in sorted(root.rglob("*.html")):
        text = path.read_text(encoding="utf-8")
        offenders += [f"{path.relative_to(root)}:{text.count(chr(10), 0, m.start()) + 1}"
                      for m in literal.finditer(text)]
        unknown += [name for name in asked.findall(text) if name not in app.view_functions]
    assert offenders == [] and unknown == []
