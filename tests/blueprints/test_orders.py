"""The sale and the money over HTTP: take an order with a deposit, pay the balance, refund,
return, cancel, arrears, the daily close, packages; scope and bad input."""
import io
from datetime import timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from formatting import local_day
from models import order_taking, orders as o
from models.base import new_token, utcnow
from tests.conftest import page_text
from tests.factories import make_order, make_user


@pytest.fixture
def big(shop):
    """The package 大单: six boxes for ¥990."""
    return o.save_package(None, name="大单", price=99000, actor=shop.manager,
                          items=[(shop.product, 6)])


def order_form(shop, **extra):
    marketer, warehouse = shop.marketer, shop.warehouse
    return {"token": new_token(), "payment_token": new_token(), "channel": "store",
            "event_id": "0", "warehouse_id": warehouse.id, "marketer_id": marketer.id,
            "deposit_method": "wechat", **extra}


def test_a_package_with_a_deposit_in_one_step(client, login, shop, big, db):
    marketer, warehouse, customer, product = (
        shop.marketer, shop.warehouse, shop.customer, shop.product)
    login(marketer)
    page = client.get(f"/orders/new/{customer.id}")
    assert "大单" in page_text(page) and "¥990.00" in page_text(page)
    data = order_form(shop, **{f"package-{big.id}": "1", "deposit": "200",
                               "deposit_reference": "4200009999"})
    response = client.post(f"/orders/new/{customer.id}", data=data)
    assert response.status_code == 302
    order = db.session.scalar(select(o.Order))
    assert (order.total, order.paid, order.balance_due) == (99000, 20000, 79000)
    assert client.post(f"/orders/new/{customer.id}", data=data).status_code == 302
    assert db.session.scalar(select(func.count(o.Order.id))) == 1  # the double tap
    assert db.session.scalar(select(func.count(o.Payment.id))) == 1
    text = page_text(client.get(response.location))
    assert "定金" in text and "4200009999" in text and "尚欠 ¥790.00" in text
    customer_page = page_text(client.get(f"/customers/{customer.id}"))
    assert "欠款 ¥790.00" in customer_page and order.number in customer_page


def test_single_products_taken_and_held(client, login, shop, db):
    marketer, warehouse, customer, product = (
        shop.marketer, shop.warehouse, shop.customer, shop.product)
    login(marketer)
    response = client.post(f"/orders/new/{customer.id}", data=order_form(shop, **{
        "lines-0-sku": "lz-001", "lines-0-quantity": "3", "lines-0-discount": "10",
        "lines-1-sku": "LZ-001", "lines-1-quantity": "2", "lines-1-held": "y"}))
    assert response.status_code == 302
    order = db.session.scalar(select(o.Order))
    assert order.total == 5 * 19800 - 1000
    assert [(line.taken, line.held) for line in order.lines] == [(3, 0), (0, 2)]


@pytest.mark.parametrize("extra, message", [
    ({"lines-0-sku": "NOPE", "lines-0-quantity": "1"}, "没有在用的商品是这个编码"),
    ({"lines-0-sku": "LZ-001", "lines-0-quantity": "1", "lines-0-discount": "500"},
     "超过了这一行的金额"),
    ({"lines-0-sku": "LZ-001", "lines-0-quantity": "1", "deposit": "300"}, "只欠 ¥198.00"),
    ({}, "请在订单中加入套餐或商品"),
    ({"package-X": "abc"}, "套餐份数"),
    ({"channel": "event"}, "请选择成交的会议"),
])
def test_bad_orders_are_refused_in_chinese_and_write_nothing(client, login, shop, big, db, extra,
                                                             message):
    marketer, customer = shop.marketer, shop.customer
    login(marketer)
    extra = {key.replace("package-X", f"package-{big.id}"): value for key, value in extra.items()}
    response = client.post(f"/orders/new/{customer.id}", data=order_form(shop, **extra))
    assert response.status_code in (409, 422)
    assert message in page_text(response)
    assert db.session.scalar(select(func.count(o.Order.id))) == 0
    assert db.session.scalar(select(func.count(o.Payment.id))) == 0


@pytest.mark.parametrize("count", ["100", "-1", "１", "2.5", "9" * 30])
def test_a_package_count_that_is_not_one_is_shown_again_with_its_message(
        client, login, shop, big, db, count):
    """The tiles are read through the order form (issue 23 §1): a count that is not 0 to 99 is
    the tiles' message, typed count and custody tick shown again, nothing written."""
    login(shop.marketer)
    response = client.post(f"/orders/new/{shop.customer.id}", data=order_form(shop, **{
        f"package-{big.id}": count, f"package-{big.id}-held": "y",
        "package-999999999999-held": "y"}))
    assert response.status_code == 422 and "套餐份数" in page_text(response)
    html = response.get_data(as_text=True)
    assert f'name="package-{big.id}" value="{count}"' in html
    assert f'name="package-{big.id}-held" value="y" checked' in html
    assert db.session.scalar(select(func.count(o.Order.id))) == 0


def test_a_package_left_in_custody_by_its_tick(client, login, shop, big, db):
    login(shop.marketer)
    response = client.post(f"/orders/new/{shop.customer.id}", data=order_form(shop, **{
        f"package-{big.id}": " 2 ", f"package-{big.id}-held": "y"}))
    assert response.status_code == 302
    order = db.session.scalar(select(o.Order))
    assert [(line.taken, line.held) for line in order.lines] == [(0, 12)]


def test_finance_takes_the_balance_refunds_and_prints(client, login, shop, db):
    marketer, manager, warehouse, customer, product = (
        shop.marketer, shop.manager, shop.warehouse, shop.customer, shop.product)
    order = make_order(customer, warehouse=warehouse, actor=marketer,
                       lines=[{"product": product, "quantity": 2}])
    o.receive_payment(order, amount=10000, method="cash", actor=marketer, token=new_token())
    db.session.flush()
    login(make_user(["finance"], display_name="周静"))
    refused = client.post(f"/orders/{order.id}/payments", data={
        "pay-token": new_token(), "pay-amount": "300", "pay-method": "cash"})
    assert refused.status_code == 409 and "只欠 ¥296.00" in page_text(refused)
    response = client.post(f"/orders/{order.id}/payments", data={
        "pay-token": new_token(), "pay-amount": "296", "pay-method": "alipay",
        "pay-reference": "2026112522001"})
    assert response.status_code == 302 and order.balance_due == 0
    too_much = client.post(f"/orders/{order.id}/refunds", data={
        "refund-token": new_token(), "refund-amount": "500", "refund-method": "cash",
        "refund-reason": "退差价"})
    assert too_much.status_code == 409 and "只付了 ¥396.00" in page_text(too_much)
    capped = client.post(f"/orders/{order.id}/refunds", data={
        "refund-token": new_token(), "refund-amount": "10", "refund-method": "cash",
        "refund-reason": "退差价"})  # paid in full, every box kept: nothing was overpaid
    assert capped.status_code == 409 and "最多可退 ¥0.00" in page_text(capped)
    assert order.paid == 39600
    client.post("/auth/logout")
    login(manager)  # a goodwill refund: the manager approves it, and says so
    assert "特批退款" in page_text(client.get(f"/orders/{order.id}"))
    client.post(f"/orders/{order.id}/refunds", data={
        "refund-token": new_token(), "refund-amount": "10", "refund-method": "cash",
        "refund-reason": "退差价", "refund-goodwill": "y"})
    assert order.paid == 38600
    pdf = client.get(f"/orders/{order.id}/receipt.pdf")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)
    assert "收据" in text and "王大爷" in text and "¥386.00" in text and "尚欠" in text


def test_a_return_through_the_order_page(client, login, shop, db):
    marketer, manager, warehouse, customer, product = (
        shop.marketer, shop.manager, shop.warehouse, shop.customer, shop.product)
    order = make_order(customer, warehouse=warehouse, actor=marketer,
                       lines=[{"product": product, "quantity": 2}])
    login(manager)
    response = client.post(f"/orders/{order.id}/returns", data={
        "return-token": new_token(), "return-line_id": order.lines[0].id,
        "return-quantity": "3", "return-disposition": "restock",
        "return-warehouse_id": warehouse.id, "return-reason": "不要了"})
    assert response.status_code == 409 and "还能退 2" in page_text(response)
    response = client.post(f"/orders/{order.id}/returns", data={
        "return-token": new_token(), "return-line_id": order.lines[0].id,
        "return-quantity": "1", "return-disposition": "restock",
        "return-warehouse_id": warehouse.id, "return-reason": "不要了"})
    assert response.status_code == 302
    assert order.returned_value == 19800 and order.lines[0].returned == 1


def test_cancel_and_reverse(client, login, shop, db):
    marketer, manager, warehouse, customer, product = (
        shop.marketer, shop.manager, shop.warehouse, shop.customer, shop.product)
    held = make_order(customer, warehouse=warehouse, actor=marketer,
                      lines=[{"product": product, "quantity": 1, "held": 1}])
    login(marketer)
    assert client.post(f"/orders/{held.id}/cancel", data={"cancel-reason": ""}).status_code == 422
    assert client.post(f"/orders/{held.id}/cancel",
                       data={"cancel-reason": "客户反悔"}).status_code == 302
    assert held.status == "cancelled"
    paid = make_order(customer, warehouse=warehouse, actor=marketer,
                      lines=[{"product": product, "quantity": 1, "held": 1}])
    payment = o.receive_payment(paid, amount=5000, method="cash", actor=marketer,
                                token=new_token())
    db.session.flush()
    assert client.post(f"/orders/payments/{payment.id}/reverse",
                       data={"reverse-reason": "错"}).status_code == 403


def test_arrears_and_scope(client, login, shop, db):
    marketer, manager, warehouse, customer, product = (
        shop.marketer, shop.manager, shop.warehouse, shop.customer, shop.product)
    order = make_order(customer, warehouse=warehouse, actor=marketer,
                       lines=[{"product": product, "quantity": 1}])
    order.due_date = local_day(utcnow()) - timedelta(days=40)
    db.session.flush()
    login(marketer)
    text = page_text(client.get("/orders/arrears"))
    assert order.number in text and "逾期 31–60 天" in text
    other = make_user(["marketer"])
    client.post("/auth/logout")
    login(other)
    assert client.get(f"/orders/{order.id}").status_code == 404
    assert order.number not in page_text(client.get("/orders/"))
    assert client.get(f"/orders/new/{customer.id}").status_code == 404


def test_the_arrears_columns_add_up_with_returns(client, login, shop, db):
    """3 boxes (¥594), ¥100 paid, one box back: 合计 594 − 退货 198 = 净额 396; 396 − 已付 100
    = 欠款 296."""
    order = make_order(shop.customer, warehouse=shop.warehouse, actor=shop.marketer,
                       lines=[{"product": shop.product, "quantity": 3}])
    o.receive_payment(order, amount=10000, method="cash", actor=shop.finance, token=new_token())
    order_taking.return_goods(order, order.lines[0], quantity=1, reason="不要了",
                              approver=shop.manager, actor=shop.manager, token=new_token())
    db.session.flush()
    login(shop.finance)
    page = client.get("/orders/arrears")
    [row] = [line for line in page_text(page).split(order.number)[1:2]]
    assert row.split()[2:7] == ["¥594.00", "-¥198.00", "¥396.00", "¥100.00", "¥296.00"]


def test_the_daily_close_screen(client, login, shop, db):
    marketer, manager, warehouse, customer, product = (
        shop.marketer, shop.manager, shop.warehouse, shop.customer, shop.product)
    order = make_order(customer, warehouse=warehouse, actor=marketer,
                       lines=[{"product": product, "quantity": 2}])
    o.receive_payment(order, amount=10000, method="cash", actor=marketer, token=new_token())
    o.receive_payment(order, amount=5000, method="wechat", actor=marketer, token=new_token())
    db.session.flush()
    finance = login(make_user(["finance"], display_name="王会计"))
    text = page_text(client.get("/orders/close"))
    assert "刘芳" in text and "¥100.00" in text and "¥50.00" in text and "待日结：#1" in text
    for counted in ("一百", "sNaN", "1e400", "1000001"):
        bad = client.post("/orders/close", data={"cashier_id": marketer.id,
                                                 "declared-cash": counted})
        assert bad.status_code == 422 and "请按付款方式填写实点金额" in page_text(bad), counted
        assert db.session.scalar(select(func.count(o.CashClose.id))) == 0
    client.post("/orders/close", data={"cashier_id": marketer.id, "declared-cash": "99",
                                       "declared-wechat": "50"})
    close = db.session.scalar(select(o.CashClose))
    assert (close.session, close.expected_total, close.declared_total, close.difference) == \
        (1, 15000, 14900, -100)
    pdf = client.get(f"/orders/close/{close.id}.pdf")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)
    assert "收款日结单" in text and "刘芳" in text and "-¥1.00" in text and "日结 #1" in text
    assert "2 笔款项" in text
    again = client.post("/orders/close", data={"cashier_id": marketer.id})
    assert again.status_code == 409 and "没有新的款项可日结" in page_text(again)
    # A deposit after the close is taken, and waits for close #2.
    o.receive_payment(order, amount=2000, method="cash", actor=marketer, token=new_token())
    db.session.flush()
    card = page_text(client.get("/orders/close")).split("刘芳 · ")[1]
    assert "日结 #1" in card and "王会计" in card and "-¥1.00" in card
    assert "待日结：#2" in card and "¥20.00" in card and "重开" not in card  # finance cannot
    refused = client.post(f"/orders/close/{close.id}/reopen", data={"reason": "点错了"})
    assert refused.status_code == 403 and close.reopened_at is None


def test_a_manager_reopens_a_close_from_the_close_screen(client, login, shop, db):
    marketer, warehouse, customer, product = (
        shop.marketer, shop.warehouse, shop.customer, shop.product)
    order = make_order(customer, warehouse=warehouse, actor=marketer,
                       lines=[{"product": product, "quantity": 2}])
    o.receive_payment(order, amount=10000, method="cash", actor=marketer, token=new_token())
    close = o.close_day(marketer, local_day(utcnow()), declared={"cash": 9000},
                        actor=shop.finance)
    o.receive_payment(order, amount=2000, method="cash", actor=marketer, token=new_token())
    db.session.flush()
    login(shop.manager)
    page = client.get("/orders/close")
    assert f'action="/orders/close/{close.id}/reopen"' in page.get_data(as_text=True)
    assert "待日结：#2" in page_text(page)
    blank = client.post(f"/orders/close/{close.id}/reopen", data={"reason": "  "},
                        follow_redirects=True)
    assert "请说明重开日结的原因" in page_text(blank) and close.reopened_at is None
    response = client.post(f"/orders/close/{close.id}/reopen",
                           data={"reason": "现金少点了一百"})
    assert response.status_code == 302 and "/orders/close?day=" in response.location
    db.session.refresh(close)
    assert (close.reopened_by, close.reopen_reason) == (shop.manager, "现金少点了一百")
    card = page_text(client.get("/orders/close")).split("刘芳 · ")[1]
    assert "已重开" in card and "现金少点了一百" in card and "待日结：#2" in card
    assert "¥120.00" in card  # both entries wait for close #2
    client.post("/orders/close", data={"cashier_id": marketer.id, "declared-cash": "120"})
    second = db.session.scalar(select(o.CashClose).where(o.CashClose.session == 2))
    assert (second.expected_total, second.difference, len(second.entries)) == (12000, 0, 2)
    pdf = client.get(f"/orders/close/{close.id}.pdf")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)
    assert "日结 #1" in text and "现金少点了一百" in text
    pdf = client.get(f"/orders/close/{second.id}.pdf")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)
    assert "日结 #2" in text and "含已重开的日结 #1 的款项" in text


def test_packages_are_set_by_managers(client, login, shop, db):
    marketer, manager = shop.marketer, shop.manager
    login(manager)
    response = client.post("/orders/packages/new", data={
        "name": "小单", "price": "300", "items-0-sku": "LZ-001", "items-0-quantity": "2"})
    assert response.status_code == 302
    response = client.post("/orders/packages/new", data={
        "name": "贵单", "price": "999", "items-0-sku": "LZ-001", "items-0-quantity": "1"})
    assert response.status_code == 422 and "高于商品原价合计" in page_text(response)
    assert "小单" in page_text(client.get("/orders/packages"))


def test_a_return_into_a_named_batch(client, login, shop, db):
    from models import inventory as inv
    marketer, manager, warehouse, customer, product = (
        shop.marketer, shop.manager, shop.warehouse, shop.customer, shop.product)
    order = make_order(customer, warehouse=warehouse, actor=marketer,
                       lines=[{"product": product, "quantity": 2}])
    other = inv.receive(product=product, quantity=1, warehouse=warehouse, actor=manager,
                        batch_number="B2").batch
    login(manager)
    data = {"return-token": new_token(), "return-line_id": order.lines[0].id,
            "return-quantity": "1", "return-disposition": "restock",
            "return-warehouse_id": warehouse.id, "return-reason": "换批次",
            "return-batch_number": "NOPE"}
    response = client.post(f"/orders/{order.id}/returns", data=data)
    assert response.status_code == 422 and "没有这个批次" in page_text(response)
    data.update({"return-batch_number": "B2", "return-token": new_token()})
    assert client.post(f"/orders/{order.id}/returns", data=data).status_code == 302
    assert inv.quantity_in(inv.location_of(warehouse), product, other) == 2


def test_the_deal_is_made_at_the_event_the_customer_came_to_today(client, login, shop, db):
    """The customer page's 开单 names the event the customer was checked in at today; the form
    preselects it, or the event the link (the door's) names."""
    import re

    from models import checkin as ci, events as ev
    from tests.factories import make_event
    today = make_event(shop.manager, title="今天的讲座", days=0)
    later = make_event(shop.manager, title="下周的讲座", days=7)
    ci.check_in(today, ev.invite(today, shop.customer, actor=shop.marketer),
                actor=shop.manager, token=new_token())
    ev.invite(later, shop.customer, actor=shop.marketer)
    login(shop.marketer)
    customer_page = client.get(f"/customers/{shop.customer.id}").get_data(as_text=True)
    assert f"/orders/new/{shop.customer.id}?event_id={today.id}" in customer_page

    def chosen(url):
        html = client.get(url).get_data(as_text=True)
        select_html = re.search(r'<select[^>]*name="event_id".*?</select>', html, re.S).group()
        return re.search(r'<option selected value="(\d+)"', select_html).group(1)
    assert chosen(f"/orders/new/{shop.customer.id}") == str(today.id)
    assert chosen(f"/orders/new/{shop.customer.id}?event_id={later.id}") == str(later.id)
    assert chosen(f"/orders/new/{shop.customer.id}?event_id=999999") == str(today.id)


def test_the_cashier_finds_what_is_due_in_the_amount_box(client, login, shop, db):
    order = make_order(shop.customer, actor=shop.marketer, warehouse=shop.warehouse)
    o.receive_payment(order, amount=5000, method="cash", actor=shop.marketer,
                      token=new_token())
    login(shop.finance)
    import re
    html = client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert order.balance_due == 34600
    box = re.search(r'<input[^>]*name="pay-amount"[^>]*>', html).group()
    assert 'value="346.00"' in box
