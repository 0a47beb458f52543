"""The door gift on a tablet: check a customer in, give the attendance gift in one tap, see the
event's gift stock fall by one."""
import re
from datetime import timedelta

from sqlalchemy import select

from extensions import db
from tests.browser.test_navigation import sign_in


def test_check_in_then_the_gift_in_one_tap(page, browser, live_server, live_app, screenshot):
    from models import accounts, customers, events, gifts, inventory
    from models.base import utcnow
    with live_app.app_context():
        manager = accounts.find_user_by_username("manager")
        staff = accounts.find_user_by_username("staff")
        marketer = accounts.find_user_by_username("marketer2")
        start = utcnow() + timedelta(hours=2)
        event = events.create_event(title="冬季养生讲座", kind="lecture", venue="会展中心",
                                    starts_at=start, ends_at=start + timedelta(hours=3),
                                    capacity=100, actor=manager)
        events.change_event_status(event, "open", actor=manager)
        events.set_event_staff(event, [staff], actor=manager)
        cup = inventory.product_by_code("GF-201")
        gifts.save_rule(None, event=event, kind="attendance", product=cup, quantity=1,
                        actor=manager)
        guest = db.session.scalars(select(customers.Customer).where(
            customers.Customer.owner_id == marketer.id)).first()
        token = events.invite(event, guest, actor=marketer).token
        db.session.commit()
        event_id, name = event.id, guest.name
        db.session.remove()
    page.set_viewport_size({"width": 1024, "height": 768})
    sign_in(page, live_server, "staff")
    page.goto(f"{live_server}/checkin/{event_id}")
    box = page.locator("[data-scan-input]")
    box.type(token)
    box.press("Enter")
    page.get_by_test_id("check-in-result").filter(has_text=name).wait_for()
    left = int(re.search(r"剩余 (\d+)", page.get_by_test_id("gift-left").inner_text())[1])
    page.get_by_test_id("give-gift").click()
    page.get_by_test_id("gift-issued").wait_for()
    assert f"剩余 {left - 1}" in page.get_by_test_id("gift-left").inner_text()
    screenshot("gift-door")
    sign_in_page = browser.new_page(viewport={"width": 1024, "height": 768})
    sign_in(sign_in_page, live_server, "warehouse")
    sign_in_page.goto(f"{live_server}/gifts/events/{event_id}")
    stock = sign_in_page.get_by_test_id("gift-stock").inner_text()
    assert f"{left - 1} 个" in stock and name in sign_in_page.get_by_test_id(
        "gift-ledger").inner_text()
    sign_in_page.close()
