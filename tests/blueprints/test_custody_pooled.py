"""Pooled custody over HTTP (#25 §7): the warehouse's custody mode on its form (refused in
Chinese while goods are held), the stock screen per product (on hand, promised, free to sell),
the second confirmation of a scrap and of a sale below the promise, and the nightly list."""
import pytest
from sqlalchemy import func, select

from models import inventory as inv
from models.base import new_token, utcnow
from models.clock import local_day
from tests.conftest import page_text
from tests.factories import make_order

pytestmark = pytest.mark.shop(price=10000, stock=50)


def warehouse_data(shop, mode):
    return {"code": shop.warehouse.code, "name": shop.warehouse.name, "kind": "main",
            "is_active": "y", "custody_mode": mode}


def test_the_mode_is_set_on_the_warehouse_form_and_refused_while_goods_are_held(client, login,
                                                                                 shop, db):
    login(shop.clerk)
    make_order(shop.customer, warehouse=shop.warehouse, actor=shop.marketer,
               lines=[{"product": shop.product, "quantity": 2, "held": 2}])
    response = client.post(f"/inventory/warehouses/{shop.warehouse.id}/edit",
                           data=warehouse_data(shop, "pooled"))
    assert response.status_code == 422
    assert "仍有顾客寄存的货品" in page_text(response)
    assert db.session.scalar(select(inv.Warehouse.custody_mode)) == "reserved"
    other = inv.create_warehouse({"code": "B", "name": "分仓"}, actor=shop.clerk)
    response = client.post(f"/inventory/warehouses/{other.id}/edit", data={
        "code": "B", "name": "分仓", "kind": "main", "is_active": "y",
        "custody_mode": "pooled"})
    assert response.status_code == 302
    assert "共用库存" in page_text(client.get("/inventory/warehouses"))


def test_the_stock_screen_shows_promised_and_free_to_sell(client, login, shop, db):
    login(shop.clerk)
    inv.set_custody_mode(shop.warehouse, "pooled", actor=shop.manager)
    make_order(shop.customer, warehouse=shop.warehouse, actor=shop.marketer,
               lines=[{"product": shop.product, "quantity": 12, "held": 12}])
    text = page_text(client.get("/inventory/?view=products&q=LZ"))
    # On hand 50, 12 promised to the customer who left them, 38 free to sell.
    assert "灵芝孢子粉 50 盒 12 38" in text
    assert "共用库存寄存" in text


def test_a_scrap_below_the_promise_asks_for_the_box_then_goes_through(client, login, shop, db):
    login(shop.clerk)
    inv.set_custody_mode(shop.warehouse, "pooled", actor=shop.manager)
    make_order(shop.customer, warehouse=shop.warehouse, actor=shop.marketer,
               lines=[{"product": shop.product, "quantity": 49, "held": 49}])
    data = {"token": new_token(), "warehouse_id": shop.warehouse.id, "note": "破损",
            "lines-0-sku": "LZ-001", "lines-0-quantity": "2"}
    refused = client.post("/inventory/documents/new/scrap", data=data)
    assert refused.status_code == 409
    text = page_text(refused)
    assert "只剩 48 盒" in text and "已承诺给寄存顾客 49 盒" in text
    assert "确认出库" in text  # the box to tick shows now
    assert inv.quantity_in(inv.location_of(shop.warehouse), shop.product) == 50
    response = client.post("/inventory/documents/new/scrap",
                           data={**data, "confirm_below_promise": "y"})
    assert response.status_code == 302
    assert inv.quantity_in(inv.location_of(shop.warehouse), shop.product) == 48


def test_a_sale_below_the_promise_asks_on_the_order_form(client, login, shop, db):
    login(shop.marketer)
    inv.set_custody_mode(shop.warehouse, "pooled", actor=shop.manager)
    make_order(shop.customer, warehouse=shop.warehouse, actor=shop.marketer,
               lines=[{"product": shop.product, "quantity": 48, "held": 48}])
    orders = select(func.count()).select_from(inv.StockMove).where(
        inv.StockMove.reason == "sale_issue")
    data = {"token": new_token(), "payment_token": new_token(), "channel": "store",
            "warehouse_id": shop.warehouse.id, "marketer_id": shop.marketer.id,
            "lines-0-sku": "LZ-001", "lines-0-quantity": "3", "deposit_method": "cash"}
    refused = client.post(f"/orders/new/{shop.customer.id}", data=data)
    assert refused.status_code == 409
    assert "确认发货" in page_text(refused)
    assert db.session.scalar(orders) == 0
    response = client.post(f"/orders/new/{shop.customer.id}",
                           data={**data, "confirm_below_promise": "y"})
    assert response.status_code == 302
    assert db.session.scalar(orders) == 1


def test_the_nightly_list_is_on_its_page_and_flagged_on_the_stock_screen(client, login, shop,
                                                                         db):
    login(shop.clerk)
    inv.set_custody_mode(shop.warehouse, "pooled", actor=shop.manager)
    make_order(shop.customer, warehouse=shop.warehouse, actor=shop.marketer,
               lines=[{"product": shop.product, "quantity": 50, "held": 50}])
    inv.create_scrap(warehouse=shop.warehouse, actor=shop.clerk, token=new_token(),
                     note="破损", lines=[{"product": shop.product, "quantity": 4}],
                     confirm_below_promise=True)
    assert "夜间任务尚未生成任何清单" in page_text(client.get("/inventory/shortfalls"))
    inv.record_shortfalls(local_day(utcnow()))
    text = page_text(client.get("/inventory/shortfalls"))
    assert "灵芝孢子粉 46 盒 50 4" in text
    assert "有 1 种商品的可售库存低于" in page_text(client.get("/inventory/"))
