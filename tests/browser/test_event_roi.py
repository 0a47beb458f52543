"""The boss opens an event's ROI (会议效果) on a 1024×768 screen and follows a figure to the rows
behind it: the marketer's "bought" figure to the order, the arrivals to the guest."""
import re
from datetime import timedelta

from sqlalchemy import select

from extensions import db
from tests.browser.test_navigation import sign_in


def _event_with_a_deal(live_app):
    from models import accounts, checkin, customers, events, inventory, order_taking, orders
    from models.base import new_token, utcnow
    with live_app.app_context():
        manager = accounts.find_user_by_username("manager")
        finance = accounts.find_user_by_username("finance")
        marketer = accounts.find_user_by_username("marketer2")
        start = utcnow() + timedelta(hours=2)
        event = events.create_event(title="会议效果演示讲座", kind="tour", venue="会展中心",
                                    starts_at=start, ends_at=start + timedelta(hours=3),
                                    capacity=100, actor=manager)
        events.change_event_status(event, "open", actor=manager)
        events.add_cost(event, kind="venue", amount_fen=10000, actor=manager)
        guests = db.session.scalars(select(customers.Customer).where(
            customers.Customer.owner_id == marketer.id).order_by(customers.Customer.id)
            .limit(2)).all()
        invitations = [events.invite(event, guest, actor=marketer) for guest in guests]
        checkin.check_in(event, invitations[0], actor=manager, token=new_token())
        warehouse = db.session.scalar(select(inventory.Warehouse).where(
            inventory.Warehouse.code == "MAIN"))
        order = order_taking.create_order(guests[0], lines=[{"product": inventory.product_by_code(
            "LZ-001"), "quantity": 1}], actor=marketer, token=new_token(), warehouse=warehouse,
            event=event)
        orders.receive_payment(order, amount=9800, method="cash", actor=finance,
                               token=new_token())
        db.session.commit()
        facts = (event.id, marketer.id, order.number, guests[0].name, guests[1].name)
        db.session.remove()
    return facts


def test_open_an_event_roi_and_follow_a_figure_to_its_rows(page, live_server, live_app,
                                                           screenshot):
    event_id, marketer_id, number, came, stayed_home = _event_with_a_deal(live_app)
    page.set_viewport_size({"width": 1024, "height": 768})
    sign_in(page, live_server, "manager")
    page.goto(f"{live_server}/reports/events")
    page.get_by_role("link", name="会议效果演示讲座").click()
    page.wait_for_url(re.compile(rf"/reports/events/{event_id}$"))
    assert page.get_by_test_id("money").locator("[data-figure=revenue]").inner_text() == \
        "¥198.00"
    # (¥198 sold − ¥60 the box cost − ¥100 venue) ÷ ¥100
    assert page.get_by_test_id("money").locator("[data-figure=roi]").inner_text() == "+38.0 %"
    assert page.get_by_test_id("funnel-chart").locator("svg rect").count() == 5
    screenshot("event-roi")

    row = page.get_by_test_id(f"marketer-{marketer_id}")
    assert row.locator("[data-figure=invited]").inner_text() == "2"
    row.locator("[data-figure=bought] a").click()
    page.wait_for_url(re.compile(rf"/reports/events/{event_id}/orders\?"))
    rows = page.get_by_test_id("drill-rows")
    assert number in rows.inner_text() and "¥100.00" in rows.inner_text()
    screenshot("event-roi-orders")
    rows.get_by_role("link", name=number).click()
    page.wait_for_url(re.compile(r"/orders/\d+$"))
    assert number in page.locator("h1").inner_text()

    page.go_back()
    page.get_by_test_id("back").click()
    page.get_by_test_id("funnel").locator("[data-figure=arrived] a").click()
    page.wait_for_url(re.compile(rf"/reports/events/{event_id}/guests\?what=arrived"))
    guests = page.get_by_test_id("drill-rows").inner_text()
    assert came in guests and stayed_home not in guests
