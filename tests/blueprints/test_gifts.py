"""Gift control over HTTP: rules, the door gift in one tap, purchase gifts with an order, the
ledger and its export, taking a gift back."""
import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from extensions import db as _db
from models import checkin as ci, events as ev, gifts as g, inventory as inv, orders as o
from models.base import new_token
from tests.conftest import page_text
from tests.factories import (make_customer, make_department, make_order, make_stocked_product,
                             make_user, make_venue)


@pytest.fixture
def venue(db):
    v = make_venue()
    return v["event"], v["warehouse"], v["manager"], v["staff"], v["marketer"], v["cup"]


def test_a_manager_adds_rules_and_bad_rules_are_refused(client, login, venue, db):
    event, warehouse, manager, staff, marketer, cup = venue
    login(manager)
    bad = client.post(f"/gifts/events/{event.id}/rules", data={
        "kind": "attendance", "product_id": cup.id, "quantity": "0",
        "attendance_for": "arrival", "condition": "product"})
    assert bad.status_code == 422 and "至少送一件" in page_text(bad)
    oil = make_stocked_product(warehouse, 5, name="鱼油")
    not_gift = client.post(f"/gifts/events/{event.id}/rules", data={
        "kind": "attendance", "product_id": oil.id, "quantity": "1",
        "attendance_for": "arrival", "condition": "product"})
    assert not_gift.status_code == 422  # not even offered: not a gift product
    good = client.post(f"/gifts/events/{event.id}/rules", data={
        "kind": "attendance", "product_id": cup.id, "quantity": "1",
        "attendance_for": "arrival", "companion_quantity": "1", "condition": "product"})
    assert good.status_code == 302
    assert "每位到场顾客：养生杯 × 1" in page_text(client.get(f"/gifts/events/{event.id}"))


def test_a_purchase_rule_says_when_its_gift_goes_and_whether_packages_count(client, login,
                                                                           venue, db):
    event, warehouse, manager, staff, marketer, cup = venue
    lz = make_stocked_product(warehouse, 5, name="灵芝孢子粉")
    login(manager)
    form = page_text(client.get(f"/gifts/events/{event.id}"))
    assert "赠品发放时机" in form and "套餐内的该商品也计入件数" in form
    response = client.post(f"/gifts/events/{event.id}/rules", data={
        "kind": "purchase", "product_id": cup.id, "quantity": "1", "condition": "product",
        "condition_product_id": lz.id, "min_quantity": "2", "waits_for": "paid",
        "counts_packages": "y", "attendance_for": "arrival"})
    assert response.status_code == 302, page_text(response)[-300:]
    [rule] = g.rules_for(event, "purchase")
    assert (rule.waits_for, rule.counts_packages) == ("paid", True)
    assert "买 2" in rule.label and "含套餐内" in rule.label
    bad = client.post(f"/gifts/events/{event.id}/rules", data={
        "kind": "purchase", "product_id": cup.id, "quantity": "1", "condition": "product",
        "condition_product_id": lz.id, "min_quantity": "2", "waits_for": "someday",
        "attendance_for": "arrival"})
    assert bad.status_code == 422 and len(g.rules_for(event, "purchase")) == 1


def test_the_door_gift_in_one_tap_once(client, login, venue, db):
    event, warehouse, manager, staff, marketer, cup = venue
    g.save_rule(None, event=event, kind="attendance", product=cup, quantity=1, actor=manager)
    customer = make_customer(marketer, name="王大爷")
    invitation = ev.invite(event, customer, actor=marketer)
    late = make_customer(marketer, name="李建国")
    ev.invite(event, late, actor=marketer)
    login(staff)
    response = client.post(f"/checkin/{event.id}/scan", headers={"HX-Request": "true"},
                           data={"code": invitation.token, "token": new_token()})
    text = page_text(response)
    assert "发放到场礼：养生杯 × 1" in text and "养生杯 剩余 21" in text
    url = f"/gifts/events/{event.id}/attendance/{customer.id}"
    for _ in range(2):  # a double tap
        tap = client.post(url, data={"token": new_token()}, headers={"HX-Request": "true"})
        assert tap.status_code == 200
    assert "已发赠品：养生杯 × 1" in page_text(tap) and "养生杯 剩余 20" in page_text(tap)
    assert "库存不多" not in page_text(tap)
    assert _db.session.scalar(select(func.count(g.GiftIssue.id))) == 1
    refused = client.post(f"/gifts/events/{event.id}/attendance/{late.id}",
                          data={"token": new_token()}, headers={"HX-Request": "true"})
    assert refused.status_code == 409 and "李建国 还没有在本场签到" in page_text(refused)
    # A customer never invited to the event is no guest of its door: a 404 that names nobody.
    stranger = make_customer(marketer, name="路人甲")
    unknown = client.post(f"/gifts/events/{event.id}/attendance/{stranger.id}",
                          data={"token": new_token()}, headers={"HX-Request": "true"})
    assert unknown.status_code == 404 and "路人甲" not in page_text(unknown)
    # A tap before the page's script was ready posts the plain form: the door says it was given.
    plain = client.post(url, data={"token": new_token()})
    assert plain.status_code == 302
    assert "已给 王大爷 发放赠品：养生杯 × 1" in page_text(client.get(plain.location))


def test_purchase_gifts_from_the_order_page(client, login, venue, db):
    event, warehouse, manager, staff, marketer, cup = venue
    lz = make_stocked_product(warehouse, 20, name="灵芝孢子粉", sale_price=19800)
    g.save_rule(None, event=event, kind="purchase", product=cup, quantity=1, actor=manager,
                condition="product", condition_product=lz, min_quantity=2)
    customer = make_customer(marketer)
    ev.invite(event, customer, actor=marketer)
    order = make_order(customer, warehouse=warehouse, actor=marketer, channel="event",
                       event=event, lines=[{"product": lz, "quantity": 2}])
    login(marketer)
    waiting = client.get(f"/orders/{order.id}")  # the rule waits for a deposit (its default)
    assert "付定金后发放" in page_text(waiting)
    assert 'value="%s" id="rule-%s" disabled' % ((g.rules_for(event, "purchase")[0].id,) * 2) \
        in waiting.get_data(as_text=True)
    o.receive_payment(order, amount=10000, method="cash", actor=marketer, token=new_token())
    page = client.get(f"/orders/{order.id}")
    assert "养生杯 × 1" in page_text(page) and "发放这些赠品" in page_text(page)
    [rule] = g.rules_for(event, "purchase")
    response = client.post(f"/gifts/orders/{order.id}", data={"token": new_token(),
                                                              "rule_ids": [rule.id]})
    assert response.status_code == 302
    assert [(i.kind, i.quantity) for i in g.order_gifts(order)] == [("purchase", 1)]
    assert "发放这些赠品" not in page_text(client.get(f"/orders/{order.id}"))
    manual = client.post(f"/gifts/orders/{order.id}/manual", data={
        "manual-token": new_token(), "manual-product_id": cup.id, "manual-quantity": "1",
        "manual-note": "老顾客"})
    assert manual.status_code == 403


def test_the_ledger_its_export_and_taking_a_gift_back(client, login, venue, db):
    event, warehouse, manager, staff, marketer, cup = venue
    g.save_rule(None, event=event, kind="attendance", product=cup, quantity=1, actor=manager)
    customer = make_customer(marketer, name="王大爷")
    ci.check_in(event, ev.invite(event, customer, actor=marketer), actor=staff,
                token=new_token())
    gift = g.issue_attendance_gifts(event, customer, actor=staff, token=new_token())
    login(make_user(["warehouse"]))
    page = page_text(client.get(f"/gifts/events/{event.id}"))
    assert "王大爷" in page and "¥15.00" in page
    sheet = load_workbook(io.BytesIO(client.get(f"/gifts/events/{event.id}/ledger.xlsx").data))
    rows = list(sheet.active.values)
    assert rows[1][1] == "王大爷" and rows[1][3] == "养生杯" and rows[1][4] == 1
    response = client.post(f"/gifts/issues/{gift.id}/reverse",
                           data={"reverse-reason": "发错了"})
    assert response.status_code == 302
    assert inv.quantity_in(inv.location_of(warehouse), cup) == 21
    assert g.event_gift_cost(event) == 0



def test_the_event_page_lists_the_latest_gifts_and_says_how_many(client, login, venue, db,
                                                                 monkeypatch):
    import blueprints.gifts.routes as routes
    event, warehouse, manager, staff, marketer, cup = venue
    monkeypatch.setattr(routes, "LEDGER_SHOWN", 2)
    g.save_rule(None, event=event, kind="attendance", product=cup, quantity=1, actor=manager)
    invitations = [ev.invite(event, make_customer(marketer, name=name), actor=marketer)
                   for name in ("甲", "乙", "丙")]
    ev.change_event_status(event, "in_progress", actor=manager)
    for invitation in invitations:
        ci.check_in(event, invitation, actor=staff, token=new_token())
        g.issue_attendance_gifts(event, invitation.customer, actor=staff, token=new_token())
    login(manager)
    text = page_text(client.get(f"/gifts/events/{event.id}"))
    assert "最近 2 条，共 3 条" in text and "¥45.00" in text  # the totals still count all three


def test_a_department_head_sees_the_gifts_of_their_departments_customers(client, login, venue,
                                                                         db):
    """Who got what: a department head is listed the gifts to their department's customers
    only (the others' names are not theirs to see); the event's figures stay whole."""
    event, warehouse, manager, staff, marketer, cup = venue
    ours, theirs = make_department("销售一部"), make_department("销售二部")
    g.save_rule(None, event=event, kind="attendance", product=cup, quantity=1, actor=manager)
    guests = [make_customer(make_user(["marketer"], department=department), name=name)
              for department, name in ((ours, "王秀英"), (theirs, "杨振华"))]
    invitations = [ev.invite(event, guest, actor=manager) for guest in guests]
    for guest, invitation in zip(guests, invitations):
        ci.check_in(event, invitation, actor=staff, token=new_token())
        g.issue_attendance_gifts(event, guest, actor=staff, token=new_token())
    login(make_user(["dept_head"], department=ours))
    text = page_text(client.get(f"/gifts/events/{event.id}"))
    assert "王秀英" in text and "杨振华" not in text and "¥30.00" in text
    assert "只列出您可查看的顾客" in text
    sheet = load_workbook(io.BytesIO(client.get(f"/gifts/events/{event.id}/ledger.xlsx").data))
    assert [row[1] for row in list(sheet.active.values)[1:]] == ["王秀英"]
    client.post("/auth/logout")
    login(make_user(["warehouse"]))
    text = page_text(client.get(f"/gifts/events/{event.id}"))
    assert "王秀英" in text and "杨振华" in text and "只列出您可查看的顾客" not in text
