"""At the door on a tablet: scan a card (the scanner types the code and Enter), see the table;
tap to check in; a double tap counts once; register a walk-in."""
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from extensions import db
from tests.browser.test_navigation import sign_in

VIEWPORTS = [{"width": 1024, "height": 768}, {"width": 1280, "height": 800}]


@pytest.fixture
def door(live_app):
    from models import accounts, customers, events
    from models.base import utcnow
    with live_app.app_context():
        manager = accounts.find_user_by_username("manager")
        staff = accounts.find_user_by_username("staff")
        marketer = accounts.find_user_by_username("marketer")
        start = utcnow() + timedelta(hours=1)
        event = events.create_event(title="门口签到演练", kind="lecture", venue="幸福酒店",
                                    starts_at=start, ends_at=start + timedelta(hours=3),
                                    capacity=100, actor=manager)
        events.change_event_status(event, "open", actor=manager)
        events.set_event_staff(event, [staff], actor=manager)
        table = events.save_table(event, number=8, seats=10, label="福", host=marketer,
                                  actor=manager)
        guests = db.session.scalars(select(customers.Customer).where(
            customers.Customer.owner_id == marketer.id).order_by(customers.Customer.id)
            .limit(2)).all()
        tokens = []
        for guest in guests:
            invitation = events.invite(event, guest, actor=marketer)
            events.change_invitation(invitation, "confirmed", actor=marketer)
            invitation.table = table
            tokens.append((invitation.token, guest.name, guest.phone[-4:]))
        db.session.commit()
        event_id = event.id
        db.session.remove()
    return event_id, tokens


def check_ins(live_app, event_id):
    from models.checkin import CheckIn
    with live_app.app_context():
        n = db.session.scalar(select(func.count(CheckIn.id)).where(CheckIn.event_id == event_id))
        db.session.remove()
    return n


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_scan_then_tap_then_double_tap(page, live_server, live_app, door, screenshot,
                                       viewport):
    event_id, [(token, name, _tail), (_t2, name2, tail2)] = door
    page.set_viewport_size(viewport)
    sign_in(page, live_server, "staff")
    page.goto(f"{live_server}/checkin/{event_id}")
    box = page.locator("[data-scan-input]")
    assert box.evaluate("el => el === document.activeElement")  # the scanner types here
    box.type(token)
    box.press("Enter")
    result = page.get_by_test_id("check-in-result")
    result.wait_for()
    assert name in result.inner_text() and "8 号桌" in page.get_by_test_id("table").inner_text()
    assert box.input_value() == "" and box.evaluate("el => el === document.activeElement")
    screenshot(f"checkin-scan-{viewport['width']}")
    # Type a phone tail, tap the card: a double tap still counts once.
    box.fill(tail2)
    card = page.get_by_test_id("match").filter(has_text=name2)
    card.wait_for()
    button = card.get_by_test_id("check-in")
    button.dblclick()
    page.get_by_test_id("check-in-result").filter(has_text=name2).wait_for()
    assert check_ins(live_app, event_id) == 2
    screenshot(f"checkin-tap-{viewport['width']}")


def test_register_a_walk_in(page, live_server, live_app, door, screenshot):
    event_id, _tokens = door
    sign_in(page, live_server, "staff")
    page.goto(f"{live_server}/checkin/{event_id}/walk-in")
    page.get_by_label("姓名").fill("临时来宾")
    page.get_by_label("手机号", exact=True).fill("13712345670")
    page.get_by_label("归属业务员").select_option(label="刘芳")
    screenshot("checkin-walk-in")
    page.get_by_test_id("walk-in-submit").click()
    result = page.get_by_test_id("check-in-result")
    result.wait_for()
    assert "临时来宾" in result.inner_text()
    assert check_ins(live_app, event_id) == 1
    page.goto(f"{live_server}/checkin/{event_id}/board")
    assert page.locator("[data-board=walk_ins]").inner_text() == "1"
    screenshot("checkin-board")
    assert re.search(r"\d+%", page.locator("[data-board=rate]").inner_text())
