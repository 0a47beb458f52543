"""Odd values in query strings and forms get a clear answer, never a 500."""
import pytest

from tests.factories import make_customer, make_user

ODD = ["²³", "99999999999999999999", "-1", "0", "'; DROP TABLE customers; --", "<script>x",
       "🙂", "9999-12-31", "0001-01-01", "\u0000", " " * 50, "a" * 5000, "9" * 400]


@pytest.mark.parametrize("value", ODD)
def test_odd_query_values_never_500(db, client, login, value):
    login(make_user(["admin", "manager", "marketer"]))
    for path in ["/customers/", "/customers/pool", "/admin/users", "/admin/audit",
                 "/events/", "/admin/audit.pdf"]:
        for key in ("q", "page", "owner_id", "grade", "idle_days", "start", "end",
                    "target_id", "actor_id", "status", "endpoint", "_scheme", "_anchor"):
            response = client.get(path, query_string={key: value})
            response.close()
            assert response.status_code < 500, (path, key, value)


@pytest.mark.parametrize("value", ODD)
def test_odd_form_values_never_500(db, client, login, value):
    me = login(make_user(["admin", "manager", "marketer"]))
    customer = make_customer(me)
    posts = [("/customers/bulk", {"ids": [value], "action": "transfer", "reason": value,
                                  "to_owner_id": value}),
             ("/customers/new", {"name": value, "phone": value, "referrer_id": value,
                                 "lunar_month": value, "birth_year": value}),
             (f"/customers/{customer.id}/contacts", {"kind": value, "content": value,
                                                     "next_follow_up": value}),
             ("/events/bulk-invite", {"ids": [value], "event_id": value}),
             ("/events/new", {"title": value, "capacity": value, "day": value})]
    for path, data in posts:
        response = client.post(path, data=data)
        assert response.status_code < 500, (path, value)


@pytest.mark.parametrize("value", ODD)
def test_odd_values_in_the_warehouse_never_500(db, client, login, value):
    from models import inventory as inv
    from models.base import new_token
    from tests.factories import make_product, make_warehouse
    me = login(make_user(["warehouse", "manager"]))
    warehouse = make_warehouse(actor=me)
    product = make_product(sku="ODD1", actor=me)
    inv.receive(product=product, quantity=5, warehouse=warehouse, actor=me)
    count = inv.start_count(warehouse, actor=me)
    line = inv.count_lines(count)[0]
    for path in ["/inventory/", "/inventory/expiry", "/inventory/moves", "/inventory/products",
                 "/inventory/documents", f"/inventory/counts/{count.id}"]:
        for key in ("q", "page", "warehouse", "day", "days", "reason", "kind", "only", "all"):
            response = client.get(path, query_string={key: value})
            assert response.status_code < 500, (path, key, value)
    line_fields = {f"lines-0-{key}": value for key in ("sku", "quantity", "batch_number",
                                                       "produced_on", "expiry_date",
                                                       "unit_cost")}
    posts = [("/inventory/products/new", {"sku": value, "name": value, "unit": value,
                                          "sale_price": value, "points_price": value,
                                          "shelf_life_days": value, "for_sale": "y"}),
             ("/inventory/documents/new/receipt", {"token": new_token(),
                                                   "warehouse_id": value, **line_fields}),
             ("/inventory/documents/new/receipt", {"token": new_token(),
                                                   "warehouse_id": warehouse.id,
                                                   **line_fields, "lines-0-sku": "ODD1"}),
             ("/inventory/documents/new/transfer", {"token": value, "warehouse_id": value,
                                                    "to_warehouse_id": value, **line_fields}),
             ("/inventory/warehouses/new", {"code": value, "name": value, "kind": value}),
             ("/inventory/counts", {"token": new_token(), "warehouse_id": value}),
             (f"/inventory/counts/{count.id}/lines/{line.id}", {"counted": value}),
             (f"/inventory/counts/{count.id}/post", {"uncounted_as_book": value})]
    for path, data in posts:
        response = client.post(path, data=data)
        assert response.status_code < 500, (path, value)


@pytest.mark.parametrize("value", ODD)
def test_odd_values_in_orders_never_500(db, client, login, value):
    from models import orders as o
    from models.base import new_token
    from tests.factories import make_order, make_stocked_product, make_warehouse
    me = login(make_user(["manager", "marketer", "finance"]))
    warehouse = make_warehouse()
    customer = make_customer(me)
    order = make_order(customer, warehouse=warehouse, actor=me,
                       lines=[{"product": make_stocked_product(warehouse, sku="ODD2"),
                               "quantity": 1}])
    payment = o.receive_payment(order, amount=100, method="cash", actor=me, token=new_token())
    for path in ["/orders/", "/orders/arrears", "/orders/close"]:
        for key in ("q", "page", "state", "event_id", "department_id", "marketer_id", "day"):
            response = client.get(path, query_string={key: value})
            assert response.status_code < 500, (path, key, value)
    posts = [(f"/orders/new/{customer.id}", {
                "token": new_token(), "payment_token": new_token(), "channel": value,
                "event_id": value, "warehouse_id": value, "marketer_id": value,
                "lines-0-sku": value, "lines-0-quantity": value, "lines-0-unit_price": value,
                "lines-0-discount": value, "package-1": value, "deposit": value,
                "deposit_method": value, "due_date": value}),
             (f"/orders/new/{customer.id}", {
                "token": new_token(), "payment_token": new_token(), "channel": "store",
                "event_id": "0", "warehouse_id": warehouse.id, "marketer_id": me.id,
                "lines-0-sku": "ODD2", "lines-0-quantity": "1", "deposit": value,
                "deposit_method": "cash", "due_date": value, "deposit_reference": value}),
             (f"/orders/{order.id}/payments", {"pay-token": new_token(), "pay-amount": value,
                                               "pay-method": "cash", "pay-day": value,
                                               "pay-reference": value}),
             (f"/orders/{order.id}/refunds", {"refund-token": value, "refund-amount": value,
                                              "refund-method": value, "refund-reason": value}),
             (f"/orders/{order.id}/returns", {"return-token": new_token(),
                                              "return-line_id": value,
                                              "return-quantity": value,
                                              "return-disposition": value,
                                              "return-warehouse_id": value,
                                              "return-reason": value}),
             (f"/orders/payments/{payment.id}/reverse", {"reverse-reason": value}),
             (f"/orders/{order.id}/cancel", {"cancel-reason": value}),
             ("/orders/close", {"cashier_id": value, "day": value, "declared-cash": value}),
             ("/orders/packages/new", {"name": value, "price": value, "items-0-sku": value,
                                       "items-0-quantity": value})]
    for path, data in posts:
        response = client.post(path, data=data)
        assert response.status_code < 500, (path, value)


@pytest.mark.parametrize("value", ODD)
def test_odd_values_in_points_and_custody_never_500(db, client, login, value):
    from models.base import new_token
    me = login(make_user(["manager", "warehouse"]))
    customer = make_customer(make_user(["marketer"]))
    for path in ["/points/", "/custody/", "/custody/report", "/custody/expiring"]:
        for key in ("q", "department_id", "page"):
            response = client.get(path, query_string={key: value})
            assert response.status_code < 500, (path, key, value)
    posts = [(f"/points/customers/{customer.id}/redeem", {"token": value, "warehouse_id": value,
                                                          "product-1": value, "product-x": value}),
             (f"/points/customers/{customer.id}/adjust", {"token": new_token(), "points": value,
                                                          "reason": value}),
             (f"/custody/customers/{customer.id}/pickups", {"token": value, "line-1": value,
                                                           "event_id": value,
                                                           "collected_by": value,
                                                           "release_reason": value})]
    for path, data in posts:
        response = client.post(path, data=data)
        assert response.status_code < 500, (path, value)
    assert me.id
