"""The warehouse's screens over HTTP: products, documents (with their slips), counts, views."""
import io
from datetime import timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from models import inventory as inv
from models.base import new_token
from tests.conftest import page_text
from tests.factories import company_today, make_product, make_user, make_warehouse

TODAY = company_today()


@pytest.fixture
def clerk(db, login):
    return login(make_user(["warehouse"], display_name="王仓管"))


@pytest.fixture
def main(db, clerk):
    return make_warehouse("总仓", code="MAIN", actor=clerk)


def moves_count(db):
    return db.session.scalar(select(func.count(inv.StockMove.id)))


def receipt_data(warehouse, *lines, token=None, supplier="康源公司"):
    data = {"token": token or new_token(), "warehouse_id": warehouse.id, "supplier": supplier}
    for i, line in enumerate(lines):
        data.update({f"lines-{i}-{key}": value for key, value in line.items()})
    return data


def test_a_product_is_added_in_yuan_and_its_price_changes_are_shown(client, clerk, db):
    response = client.post("/inventory/products/new", data={
        "sku": "LZ-001", "name": "灵芝孢子粉", "unit": "盒", "category": "保健品",
        "for_sale": "y", "sale_price": "198.00", "standard_cost": "60.5",
        "shelf_life_days": "730", "low_stock_threshold": "10"})
    assert response.status_code == 302
    product = inv.product_by_code("LZ-001")
    assert (product.sale_price, product.standard_cost, product.category.name) == (
        19800, 6050, "保健品")
    response = client.post(f"/inventory/products/{product.id}/edit", data={
        "sku": "LZ-001", "name": "灵芝孢子粉", "unit": "盒", "for_sale": "y",
        "sale_price": "168", "standard_cost": "60.5", "is_active": "y"})
    assert response.status_code == 302
    text = page_text(client.get(f"/inventory/products/{product.id}"))
    assert "售价 ¥198.00 ¥168.00" in text and "王仓管" in text


def test_bad_product_input_is_refused_in_chinese(client, clerk, db):
    make_product(sku="DUP", actor=clerk)
    response = client.post("/inventory/products/new", data={
        "sku": "dup", "name": "蜂胶", "unit": "瓶", "for_sale": "y", "sale_price": "-5"})
    assert response.status_code == 422
    assert "¥0 到 ¥1,000,000" in page_text(response)
    response = client.post("/inventory/products/new", data={
        "sku": "dup", "name": "蜂胶", "unit": "瓶", "for_sale": "y"})
    assert response.status_code == 409 or "已被使用" in page_text(response)


def test_a_receipt_is_saved_once_printed_and_reversed(client, clerk, main, db):
    a, b = make_product("蜂胶", sku="FJ", actor=clerk), make_product("鱼油", sku="YY",
                                                                   actor=clerk)
    token = new_token()
    data = receipt_data(main, {"sku": "FJ", "quantity": "10", "batch_number": "20261101",
                               "produced_on": "2026-11-01", "expiry_date": "2028-11-01",
                               "unit_cost": "55"},
                        {"sku": "yy", "quantity": "20"}, token=token)
    response = client.post("/inventory/documents/new/receipt", data=data)
    assert response.status_code == 302
    document = db.session.scalar(select(inv.StockDocument))
    assert client.post("/inventory/documents/new/receipt", data=data).status_code == 302
    assert moves_count(db) == 2  # the double submit wrote nothing more
    page = page_text(client.get(response.location))
    assert document.number in page and "康源公司" in page and "20261101" in page
    slip = client.get(f"/inventory/documents/{document.id}/slip.pdf")
    assert slip.mimetype == "application/pdf"
    pdf = "".join(p.extract_text() for p in PdfReader(io.BytesIO(slip.data)).pages)
    assert "入库单" in pdf and "蜂胶" in pdf and document.number in pdf and "¥550.00" in pdf
    response = client.post(f"/inventory/documents/{document.id}/reverse",
                           data={"note": "送错货"})
    assert response.status_code == 302
    assert inv.quantity_in(inv.location_of(main), a) == 0
    assert inv.quantity_in(inv.location_of(main), b) == 0
    assert "已冲销" in page_text(client.get(response.location)) or inv.is_reversed(document)


@pytest.mark.parametrize("line, message", [
    ({"sku": "NOPE", "quantity": "1"}, "没有在用的商品是这个编码"),
    ({"sku": "FJ", "quantity": "0"}, "大于零的整数"),
    ({"sku": "FJ", "quantity": "3", "produced_on": "2026-06-01", "expiry_date": "2026-01-01"},
     "有效期早于生产日期"),
])
def test_a_bad_receipt_line_is_refused_and_nothing_is_written(client, clerk, main, db, line,
                                                               message):
    make_product("蜂胶", sku="FJ", actor=clerk)
    response = client.post("/inventory/documents/new/receipt",
                           data=receipt_data(main, {"sku": "FJ", "quantity": "2"}, line))
    assert response.status_code == 422
    assert message in page_text(response)
    assert moves_count(db) == 0
    assert db.session.scalar(select(func.count(inv.StockDocument.id))) == 0


@pytest.mark.parametrize("expiry, words", [(-3, "已经过期"), (10, "请勾选确认")])
def test_a_short_dated_batch_needs_a_second_confirmation_and_is_labelled(client, clerk, main, db,
                                                                          expiry, words):
    """Expired three days ago, or expiring within the near-expiry days (30 by default): refused
    with the box to tick, nothing written; ticked, received and labelled on the document and
    its slip. A batch expiring beyond the window needs nothing (the receipt test above)."""
    from datetime import timedelta
    from formatting import local_day
    from models.base import utcnow
    make_product("蜂胶", sku="FJ", actor=clerk)
    day = (local_day(utcnow()) + timedelta(days=expiry)).isoformat()
    data = receipt_data(main, {"sku": "FJ", "quantity": "5", "batch_number": "OLD",
                               "expiry_date": day})
    refused = client.post("/inventory/documents/new/receipt", data=data)
    assert refused.status_code == 409 and words in page_text(refused)
    assert "确认入库过期或临期批次" in page_text(refused)  # the box shows now
    assert moves_count(db) == 0
    response = client.post("/inventory/documents/new/receipt",
                           data={**data, "confirm_short_dated": "y"})
    assert response.status_code == 302 and moves_count(db) == 1
    document = db.session.scalar(select(inv.StockDocument))
    assert document.short_dated
    assert "含过期或临期批次（经二次确认入库）" in page_text(client.get(response.location))
    slip = client.get(f"/inventory/documents/{document.id}/slip.pdf")
    pdf = "".join(p.extract_text() for p in PdfReader(io.BytesIO(slip.data)).pages)
    assert "经二次确认入库" in pdf


def test_transfer_to_the_same_warehouse_and_issuing_too_much_are_refused(client, clerk, main,
                                                                         db):
    product = make_product("蜂胶", sku="FJ", actor=clerk)
    inv.receive(product=product, quantity=3, warehouse=main, actor=clerk)
    db.session.flush()
    data = {"token": new_token(), "warehouse_id": main.id, "to_warehouse_id": main.id,
            "lines-0-sku": "FJ", "lines-0-quantity": "1"}
    response = client.post("/inventory/documents/new/transfer", data=data)
    assert response.status_code == 422 and "另一个仓库" in page_text(response)
    response = client.post("/inventory/documents/new/scrap", data={
        "token": new_token(), "warehouse_id": main.id, "note": "破损",
        "lines-0-sku": "FJ", "lines-0-quantity": "4"})
    assert response.status_code == 409
    assert "仅有 3 盒" in page_text(response) and "第 1 行" in page_text(response)
    assert inv.quantity_in(inv.location_of(main), product) == 3


def test_a_transfer_moves_stock_and_shows_on_both_warehouses(client, clerk, main, db):
    product = make_product("蜂胶", sku="FJ", actor=clerk)
    venue = make_warehouse("会场物料", actor=clerk)
    inv.receive(product=product, quantity=5, warehouse=main, actor=clerk, batch_number="B1")
    db.session.flush()
    response = client.post("/inventory/documents/new/transfer", data={
        "token": new_token(), "warehouse_id": main.id, "to_warehouse_id": venue.id,
        "lines-0-sku": "FJ", "lines-0-quantity": "2", "lines-0-batch_number": "B1"})
    assert response.status_code == 302
    text = page_text(client.get(f"/inventory/?warehouse={venue.id}"))
    assert "会场物料" in text and "蜂胶" in text and "B1" in text


def test_a_stock_count_at_the_counter(client, clerk, main, db):
    a = make_product("蜂胶", sku="FJ", actor=clerk)
    make_product("螺旋藻", sku="LXZ", actor=clerk)
    inv.receive(product=a, quantity=10, warehouse=main, actor=clerk, batch_number="B1")
    db.session.flush()
    response = client.post("/inventory/counts", data={"token": new_token(),
                                                       "warehouse_id": main.id})
    assert response.status_code == 302
    count = db.session.scalar(select(inv.StockCount))
    found = client.get(f"/inventory/counts/{count.id}",
                       query_string={"q": "fj", "fragment": "lines"},
                       headers={"HX-Request": "true"})
    assert "蜂胶" in page_text(found) and "<html" not in found.get_data(as_text=True)
    missing = client.get(f"/inventory/counts/{count.id}", query_string={"q": "螺旋藻"})
    assert "不在本仓库的商品不能在这里盘点" in page_text(missing)
    [line] = inv.count_lines(count)
    bad = client.post(f"/inventory/counts/{count.id}/lines/{line.id}", data={"counted": "-1"},
                      headers={"HX-Request": "true"})
    assert bad.status_code == 422 and "0 或以上的整数" in page_text(bad)
    saved = client.post(f"/inventory/counts/{count.id}/lines/{line.id}", data={"counted": "8"},
                        headers={"HX-Request": "true"})
    assert saved.status_code == 200 and "-2" in page_text(saved)
    client.post(f"/inventory/counts/{count.id}/post", data={})
    assert inv.quantity_in(inv.location_of(main), a) == 8
    again = client.post(f"/inventory/counts/{count.id}/post", data={}, follow_redirects=True)
    assert "已过账，不能再修改" in page_text(again)
    assert moves_count(db) == 2


def test_the_views_show_stock_value_expiry_low_stock_and_moves(client, clerk, main, db):
    product = make_product("蜂胶", sku="FJ", actor=clerk, low_stock_threshold=20)
    inv.receive(product=product, quantity=4, warehouse=main, actor=clerk, batch_number="OLD",
                expiry_date=TODAY - timedelta(days=3), unit_cost=1000)
    inv.receive(product=product, quantity=6, warehouse=main, actor=clerk, batch_number="NEAR",
                expiry_date=TODAY + timedelta(days=20), unit_cost=1000)
    db.session.flush()
    assert "¥100.00" in page_text(client.get("/inventory/"))
    expiry = page_text(client.get("/inventory/expiry"))
    assert "OLD" in expiry and "NEAR" in expiry and "已过期" in expiry
    assert "蜂胶" in page_text(client.get("/inventory/low-stock"))
    moves = page_text(client.get("/inventory/moves"))
    assert "采购入库" in moves and "2 笔" in moves
    yesterday = (TODAY - timedelta(days=1)).isoformat()
    assert "0 笔" in page_text(client.get(f"/inventory/moves?day={yesterday}"))


def test_finance_sees_the_stock_but_cannot_change_it(client, login, db):
    make_warehouse("总仓")
    login("finance")
    assert client.get("/inventory/").status_code == 200
    assert "/inventory/documents/new/receipt" not in client.get("/inventory/").get_data(
        as_text=True)
    assert client.get("/inventory/documents/new/receipt").status_code == 403


def test_stock_on_hand_pages_through_many_batches_with_totals_of_all(client, clerk, main, db,
                                                                    monkeypatch):
    import blueprints.inventory.routes as routes
    monkeypatch.setattr(routes, "SHOWN_ROWS", 2)
    product = make_product(actor=clerk, name="鱼油")
    for n in range(3):
        inv.receive(product=product, quantity=10 + n, warehouse=main, actor=clerk,
                    batch_number=f"B{n}", unit_cost=100)
    first = page_text(client.get("/inventory/", query_string={"warehouse": main.id}))
    assert "B0" in first and "B1" in first and "B2" not in first
    assert "第 1 / 2 页 · 共 3 行" in first and "¥33.00" in first  # the total covers every row
    second = page_text(client.get("/inventory/", query_string={"warehouse": main.id,
                                                               "page": 2}))
    assert "B2" in second and "B0" not in second and "¥33.00" in second
    assert client.get("/inventory/", query_string={"page": "99999"}).status_code == 200
