"""Points over HTTP: the customer's points, redemption with a slip, adjustment, reversal,
the liability; bad input."""
import io

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from models import inventory as inv, points as pt, referrals
from models.base import new_token
from tests.conftest import page_text
from tests.factories import make_customer, make_user

pytestmark = pytest.mark.shop(cup_stock=5)


@pytest.fixture
def counter(shop, db):
    """The shop, with 1000 points on 王大爷's account (a 保温杯 is 300; 5 in stock)."""
    pt.adjust(shop.customer, 1000, reason="开户礼", actor=shop.manager, token=new_token())
    db.session.flush()
    return shop


def test_redeem_print_and_reverse(client, login, counter, db):
    warehouse, manager, customer, cup = counter.warehouse, counter.manager, counter.customer, \
        counter.cup
    login(manager)
    found = client.get("/points/", query_string={"q": customer.phone[-4:]},
                       headers={"HX-Request": "true"})
    assert "王大爷" in page_text(found) and "1000 积分" in page_text(found)
    too_many = client.post(f"/points/customers/{customer.id}/redeem", data={
        "token": new_token(), "warehouse_id": warehouse.id, f"product-{cup.id}": "4"})
    assert too_many.status_code == 409 and "只有 1000 积分" in page_text(too_many)
    response = client.post(f"/points/customers/{customer.id}/redeem", data={
        "token": new_token(), "warehouse_id": warehouse.id, f"product-{cup.id}": "2"})
    assert response.status_code == 302
    assert "剩余积分： 400" in page_text(client.get(response.location))
    redemption = db.session.scalar(select(pt.Redemption))
    slip = client.get(f"/points/redemptions/{redemption.id}/slip.pdf")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(slip.data)).pages)
    assert "积分兑换单" in text and "保温杯" in text and "600" in text
    client.post(f"/points/redemptions/{redemption.id}/reverse", data={"reason": "拿错了"})
    assert pt.balance_of(customer.id) == 1000
    assert inv.quantity_in(inv.location_of(warehouse), cup) == 5


def test_adjustments_and_bad_input(client, login, counter, db):
    warehouse, manager, customer, cup = counter.warehouse, counter.manager, counter.customer, \
        counter.cup
    login(manager)
    bad = client.post(f"/points/customers/{customer.id}/adjust",
                      data={"token": new_token(), "points": "abc", "reason": "x"})
    assert bad.status_code == 422
    no_reason = client.post(f"/points/customers/{customer.id}/adjust",
                            data={"token": new_token(), "points": "50", "reason": ""})
    assert no_reason.status_code == 422 and "原因" in page_text(no_reason)
    below = client.post(f"/points/customers/{customer.id}/adjust",
                        data={"token": new_token(), "points": "-2000", "reason": "扣"})
    assert below.status_code == 409 and "不能小于零" in page_text(below)
    client.post(f"/points/customers/{customer.id}/adjust",
                data={"token": new_token(), "points": "-100", "reason": "更正"})
    assert pt.balance_of(customer.id) == 900
    page = page_text(client.get(f"/points/customers/{customer.id}"))
    assert "900" in page and "更正" in page
    assert "未兑积分" in page_text(client.get("/points/liability"))


def test_a_marketer_redeems_only_for_own_customers(client, login, counter, db):
    warehouse, manager, customer, cup = counter.warehouse, counter.manager, counter.customer, \
        counter.cup
    login(make_user(["marketer"]))
    assert client.get(f"/points/customers/{customer.id}").status_code == 404


def test_a_redemption_left_in_custody_is_picked_up_at_the_custody_counter(client, login,
                                                                         counter, db):
    from models import custody as cu
    warehouse, manager, customer, cup = counter.warehouse, counter.manager, counter.customer, \
        counter.cup
    login(manager)
    assert "寄存在公司" in page_text(client.get(f"/points/customers/{customer.id}"))
    response = client.post(f"/points/customers/{customer.id}/redeem", data={
        "token": new_token(), "warehouse_id": warehouse.id, f"product-{cup.id}": "2",
        "in_custody": "1"})
    assert response.status_code == 302
    assert "顾客到寄存处领取" in page_text(client.get(response.location))
    redemption = db.session.scalar(select(pt.Redemption))
    assert redemption.in_custody and inv.quantity_in(inv.location_of(warehouse), cup) == 3
    slip = client.get(f"/points/redemptions/{redemption.id}/slip.pdf")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(slip.data)).pages)
    assert "积分兑换单" in text and "寄存在公司" in text and "保温杯" in text
    client.post("/auth/logout")
    login(make_user(["warehouse"]))
    page = page_text(client.get(f"/custody/customers/{customer.id}"))
    assert redemption.number in page and "保温杯" in page
    field = f"redeemed-{redemption.id}-{cup.id}"
    refused = client.post(f"/custody/customers/{customer.id}/pickups",
                          data={"token": new_token(), field: "3"})
    assert refused.status_code == 409 and "只寄存了 2" in page_text(refused)
    done = client.post(f"/custody/customers/{customer.id}/pickups",
                       data={"token": new_token(), field: "2"})
    assert done.status_code == 302
    assert cu.holdings(customer) == []
    client.post("/auth/logout")
    login(manager)
    client.post(f"/points/redemptions/{redemption.id}/reverse", data={"reason": "不要了"})
    db.session.expire_all()
    assert "已从寄存领取" in page_text(client.get(f"/points/redemptions/{redemption.id}"))
    assert pt.balance_of(customer.id) == 400 and redemption.reversed_at is None


def test_an_owed_referral_gift_is_given_from_the_points_page(client, login, counter, db):
    from models.settings import update_settings
    warehouse, manager, customer, cup = counter.warehouse, counter.manager, counter.customer, \
        counter.cup
    update_settings({"points.referral_reward": "gift", "points.referral_gift_sku": cup.sku,
                     "points.referral_gift_quantity": 9}, actor=make_user(["admin"]))
    friend = make_customer(make_user(["marketer"]), name="李阿姨", referrer_id=customer.id,
                           actor=manager)
    reward = referrals.reward_referral(friend, trigger="buy", actor=manager, warehouse=warehouse)
    assert reward.status == "owed"
    login(manager)
    page = page_text(client.get(f"/points/customers/{customer.id}"))
    assert "李阿姨" in page and "欠发" in page
    short = client.post(f"/points/referral-rewards/{reward.id}/give",
                        data={"token": new_token()})
    assert short.status_code == 409 and "仍欠" in page_text(short)
    inv.receive(product=cup, quantity=10, warehouse=warehouse, actor=manager,
                batch_number="B2")
    db.session.commit()
    given = client.post(f"/points/referral-rewards/{reward.id}/give",
                        data={"token": new_token()})
    assert given.status_code == 302
    db.session.expire_all()
    assert reward.status == "given" and inv.quantity_in(inv.location_of(warehouse), cup) == 6
    client.post("/auth/logout")
    login(make_user(["marketer"]))
    assert client.post(f"/points/referral-rewards/{reward.id}/give",
                       data={"token": new_token()}).status_code == 404
