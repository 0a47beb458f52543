"""Safeguards for older customers over HTTP: a large order taken with a deposit stays pending,
the head confirms with a PIN on the marketer's tablet, the cooling-off day in plain words on the
order page, the receipt and the large-print A5 summary, the family contact on the customer."""
import io
import subprocess

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from models import orders as o
from models.audit import AuditEntry
from models.base import new_token
from models.orders import safeguards
from models.settings import update_settings
from models.tasks import Task
from tests.browser.conftest import ARTIFACTS
from tests.conftest import page_text


@pytest.fixture
def shop(shop):
    """The shop, where an order above ¥1,000 is large and the service phone is printed."""
    update_settings({"orders.large_order_yuan": 1000, "orders.service_phone": "400-800-1234"},
                    actor=shop.admin)
    return shop


def take_order(client, shop, quantity, deposit=""):
    marketer, warehouse, customer, product = (
        shop.marketer, shop.warehouse, shop.customer, shop.product)
    data = {"token": new_token(), "payment_token": new_token(), "channel": "store",
            "event_id": "0", "warehouse_id": warehouse.id, "marketer_id": marketer.id,
            "deposit_method": "wechat", "deposit": deposit,
            "lines-0-sku": product.sku, "lines-0-quantity": str(quantity)}
    return client.post(f"/orders/new/{customer.id}", data=data)


def test_a_large_order_with_a_deposit_waits_for_the_heads_pin(client, login, shop, db):
    marketer, head, customer, product = shop.marketer, shop.head, shop.customer, shop.product
    safeguards.set_pin(head, pin="2468", password="secret123")
    login(marketer)
    response = take_order(client, shop, 6, deposit="500")
    assert response.status_code == 302
    order = db.session.scalar(select(o.Order))
    assert order.is_pending and order.paid == 0
    page = page_text(client.get(response.location))
    assert "确认后再收定金" in page and "部门经理或总经理确认前，本单不生效" in page
    assert "确认收款" not in page  # no payment form while pending

    wrong = client.post(f"/orders/{order.id}/confirm",
                        data={"confirm-confirmer_id": head.id, "confirm-pin": "1111"})
    assert wrong.status_code == 403 and "PIN不正确" in page_text(wrong)
    assert db.session.scalar(select(func.count(AuditEntry.id)).where(
        AuditEntry.action == "order.pin_failed")) == 1
    db.session.refresh(order)
    assert order.is_pending

    right = client.post(f"/orders/{order.id}/confirm",
                        data={"confirm-confirmer_id": head.id, "confirm-pin": "2468"})
    assert right.status_code == 302
    db.session.refresh(order)
    assert order.confirmation == "confirmed" and order.confirmed_by_id == head.id
    task = db.session.scalar(select(Task).where(Task.kind == "confirm_call"))
    assert task.assignee_id == head.id and "大单确认回访" in task.title
    page = page_text(client.get(f"/orders/{order.id}"))
    assert "大额订单已由 陈经理 于" in page and "确认收款" in page


def test_a_marketer_cannot_name_themselves_or_a_stranger_as_the_confirmer(client, login, shop,
                                                                           db):
    marketer, head = shop.marketer, shop.head
    login(marketer)
    take_order(client, shop, 6)
    order = db.session.scalar(select(o.Order))
    response = client.post(f"/orders/{order.id}/confirm",
                           data={"confirm-confirmer_id": marketer.id, "confirm-pin": "1234"})
    assert response.status_code == 422  # not among the choices
    db.session.refresh(order)
    assert order.is_pending


def test_the_order_page_and_the_receipt_say_the_last_cooling_off_day_in_words(client, login,
                                                                               shop, db):
    marketer = shop.marketer
    login(marketer)
    response = take_order(client, shop, 2)
    order = db.session.scalar(select(o.Order))
    day = safeguards.cooling_off_last_day(order)
    words = f"{day.year}年{day.month}月{day.day}日"
    assert words in page_text(client.get(response.location))
    receipt = client.get(f"/orders/{order.id}/receipt.pdf")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(receipt.data)).pages)
    assert "冷静期" in text and words in text


def test_the_large_print_summary_is_a5_with_what_is_due_and_whom_to_call(client, login, shop,
                                                                          db, tmp_path):
    marketer = shop.marketer
    login(marketer)
    take_order(client, shop, 2, deposit="100")
    order = db.session.scalar(select(o.Order))
    response = client.get(f"/orders/{order.id}/summary.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    reader = PdfReader(io.BytesIO(response.data))
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (420, 595)  # A5 portrait
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / "order-summary.pdf"  # looked at by people
    path.write_bytes(response.data)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout
    for expected in ("您的订单摘要", "王大爷", "灵芝孢子粉", "¥100.00", "¥296.00",
                     "刘芳 13911112222", "400-800-1234", "退货"):
        assert expected in text, expected


def test_family_contact_is_kept_on_the_customer_and_shown_masked(client, login, shop, db):
    marketer, customer = shop.marketer, shop.customer
    login(marketer)
    form = {"name": customer.name, "phone": customer.phone_national,
            "family_name": "王小明", "family_relation": "儿子", "family_phone": "13900001111"}
    response = client.post(f"/customers/{customer.id}/edit", data=form)
    assert response.status_code == 302
    db.session.refresh(customer)
    assert (customer.family_name, customer.family_phone) == ("王小明", "+8613900001111")
    page = page_text(client.get(f"/customers/{customer.id}"))
    assert "王小明（儿子） 139****1111" in page and "13900001111" not in page
    bad = client.post(f"/customers/{customer.id}/edit", data={**form, "family_phone": "123"})
    assert bad.status_code == 422
    db.session.refresh(customer)
    assert customer.family_phone == "+8613900001111"


def test_a_head_sets_their_pin_and_a_marketer_cannot(client, login, shop, db):
    marketer, head = shop.marketer, shop.head
    login(marketer)
    assert client.get("/orders/my-pin").status_code == 403
    client.post("/auth/logout")
    login(head)
    bad = client.post("/orders/my-pin", data={"password": "secret123", "pin": "12ab"})
    assert bad.status_code == 422 and "4至8位数字" in page_text(bad)
    assert client.post("/orders/my-pin", data={"password": "secret123",
                                               "pin": "2468"}).status_code == 302
    db.session.refresh(head)
    assert safeguards.check_pin(head, "2468")
