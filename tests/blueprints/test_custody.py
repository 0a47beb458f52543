"""Custody over HTTP: find the customer, what may be collected, hand over with a slip,
statements, the lists; scope."""
import io

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from formatting import masked_phone
from models import custody as cu, orders as o
from models.base import new_token
from tests.conftest import page_text
from tests.factories import make_order, make_user

pytestmark = pytest.mark.shop(price=10000)


@pytest.fixture
def order(shop):
    """王大爷's 10 boxes of 灵芝孢子粉 (¥1,000), all left in custody."""
    return make_order(shop.customer, warehouse=shop.warehouse, actor=shop.marketer,
                      lines=[{"product": shop.product, "quantity": 10, "held": 10}])


def pdf_text(response):
    return "".join(p.extract_text() for p in PdfReader(io.BytesIO(response.data)).pages)


def test_find_hand_over_print_and_state(client, login, shop, order, db):
    customer = shop.customer
    o.receive_payment(order, amount=50000, method="cash", actor=shop.finance,
                      token=new_token())
    login(shop.clerk)
    tail = customer.phone[-4:]
    found = client.get("/custody/", query_string={"q": tail}, headers={"HX-Request": "true"})
    assert "王大爷" in page_text(found) and masked_phone(customer.phone) in page_text(found)
    page = page_text(client.get(f"/custody/customers/{customer.id}"))
    assert "灵芝孢子粉" in page and "现在可领" in page
    line = order.lines[0]
    refused = client.post(f"/custody/customers/{customer.id}/pickups",
                          data={"token": new_token(), f"line-{line.id}": "6"})
    assert refused.status_code == 409 and "现在只能领 5" in page_text(refused)
    bad = client.post(f"/custody/customers/{customer.id}/pickups",
                      data={"token": new_token(), f"line-{line.id}": "两"})
    assert bad.status_code == 422 and "整数" in page_text(bad)
    response = client.post(f"/custody/customers/{customer.id}/pickups", data={
        "token": new_token(), f"line-{line.id}": "2", "collected_by": "王小明",
        "relation": "儿子"})
    assert response.status_code == 302
    slip_page = page_text(client.get(response.location))
    assert "灵芝孢子粉 8 盒" in slip_page
    pickup = db.session.scalar(select(cu.CustodyPickup))
    slip = pdf_text(client.get(f"/custody/pickups/{pickup.id}/slip.pdf"))
    assert "领货单" in slip and "王大爷" in slip and "王小明" in slip and "领取人（签字）" in slip
    statement = pdf_text(client.get(f"/custody/customers/{customer.id}/statement.pdf"))
    assert "寄存对账单" in statement and "+10" in statement and "-2" in statement


def test_marketers_see_but_do_not_hand_over_and_see_only_their_own(client, login, shop, order,
                                                                    db):
    customer = shop.customer
    login(shop.marketer)
    assert client.get(f"/custody/customers/{customer.id}").status_code == 200
    assert client.post(f"/custody/customers/{customer.id}/pickups",
                       data={"token": new_token()}).status_code == 403
    client.post("/auth/logout")
    login(make_user(["marketer"]))
    assert client.get(f"/custody/customers/{customer.id}").status_code == 404


def test_the_customer_page_shows_what_is_held(client, login, shop, order, db):
    login(shop.marketer)
    text = page_text(client.get(f"/customers/{shop.customer.id}"))
    assert "寄存货品" in text and "灵芝孢子粉 10 盒" in text


def test_the_lists(client, login, order, db):
    login(make_user(["manager"]))
    assert "刘芳" in page_text(client.get("/custody/report"))
    assert client.get("/custody/expiring").status_code == 200
