"""The door on a tablet when a guest is not on the list (issue 24 A1, A2, A5): a known customer
who came uninvited is checked in from the failed search in a few taps, walk-ins and their
companions get the attendance gift, a guest found again by search gets the gift button, and a
second scan reads as information."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from extensions import db
from tests.browser.test_navigation import sign_in

VIEWPORTS = [{"width": 1024, "height": 768}, {"width": 800, "height": 1280}]


@pytest.fixture
def evening(live_app):
    """An open event with an attendance gift (one more per companion), one invited guest, and a
    customer of 刘芳's who was not invited."""
    from models import accounts, customers, events, gifts, inventory
    from models.base import utcnow
    with live_app.app_context():
        manager = accounts.find_user_by_username("manager")
        staff = accounts.find_user_by_username("staff")
        marketer = accounts.find_user_by_username("marketer")
        start = utcnow() + timedelta(hours=1)
        event = events.create_event(title="临时到场演练", kind="lecture", venue="幸福酒店",
                                    starts_at=start, ends_at=start + timedelta(hours=3),
                                    capacity=100, actor=manager)
        events.change_event_status(event, "open", actor=manager)
        events.set_event_staff(event, [staff], actor=manager)
        gifts.save_rule(None, event=event, kind="attendance", product=inventory.product_by_code(
            "GF-201"), quantity=1, companion_quantity=1, actor=manager)
        invited, uninvited = db.session.scalars(select(customers.Customer).where(
            customers.Customer.owner_id == marketer.id, customers.Customer.status == "active")
            .order_by(customers.Customer.id.desc()).limit(2)).all()
        events.invite(event, invited, actor=marketer)
        db.session.commit()
        facts = {"event_id": event.id, "invited": (invited.id, invited.name, invited.phone),
                 "uninvited": (uninvited.id, uninvited.name, uninvited.phone)}
        db.session.remove()
    return facts


def gifts_of(live_app, event_id, customer_id):
    from models.gifts import GiftIssue
    with live_app.app_context():
        rows = db.session.execute(select(GiftIssue.kind, func.sum(GiftIssue.quantity)).where(
            GiftIssue.event_id == event_id, GiftIssue.customer_id == customer_id)
            .group_by(GiftIssue.kind)).all()
        db.session.remove()
    return dict(rows)


def national(phone):
    return phone.removeprefix("+86")


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_a_known_customer_who_came_uninvited_is_checked_in_and_gifted(
        page, live_server, live_app, evening, screenshot, viewport):
    event_id = evening["event_id"]
    customer_id, name, phone = evening["uninvited"]
    page.set_viewport_size(viewport)
    sign_in(page, live_server, "staff")
    page.goto(f"{live_server}/checkin/{event_id}")
    box = page.locator("[data-scan-input]")
    box.fill(national(phone))  # not on the list: the search finds nobody
    page.get_by_test_id("no-match").wait_for()
    taps = 0
    page.get_by_test_id("register-walk-in").click()
    taps += 1
    known = page.get_by_test_id("known-customer")  # the mobile came along: found at once
    known.wait_for()
    assert name in known.inner_text() and "刘芳" in known.inner_text()
    known.get_by_label("陪同人数").fill("1")
    taps += 1
    screenshot(f"door-walk-in-known-{viewport['width']}")
    page.get_by_test_id("walk-in-known").click()
    taps += 1
    result = page.get_by_test_id("check-in-result")
    result.wait_for()
    assert taps <= 3 and name in result.inner_text() and "临时到场" in result.inner_text()
    page.wait_for_function("() => window.htmx && document.readyState === 'complete'")
    page.get_by_test_id("give-gift").click()  # as a person taps: once the page is ready
    page.get_by_test_id("gift-issued").wait_for()
    assert gifts_of(live_app, event_id, customer_id) == {"attendance": 1, "companion": 1}
    assert page.get_by_test_id("start-deal").count() == 0  # event staff take no orders
    screenshot(f"door-walk-in-gift-{viewport['width']}")


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_a_manager_at_the_door_starts_the_walk_ins_deal_with_the_event_chosen(
        page, live_server, evening, screenshot, viewport):
    """The walk-in's result offers the deal as a scan's does (issue 24 D: the event passed from
    the door)."""
    event_id = evening["event_id"]
    customer_id, name, phone = evening["uninvited"]
    page.set_viewport_size(viewport)
    sign_in(page, live_server, "manager")
    page.goto(f"{live_server}/checkin/{event_id}")
    page.locator("[data-scan-input]").fill(national(phone))
    page.get_by_test_id("no-match").wait_for()
    page.get_by_test_id("register-walk-in").click()
    page.get_by_test_id("walk-in-known").click()
    page.get_by_test_id("check-in-result").filter(has_text=name).wait_for()
    deal = page.get_by_test_id("start-deal")
    box = deal.bounding_box()
    assert box["height"] >= 44
    screenshot(f"door-walk-in-deal-{viewport['width']}")
    deal.click()
    page.wait_for_url(f"{live_server}/orders/new/{customer_id}?event_id={event_id}")
    assert page.get_by_label("会议", exact=True).input_value() == str(event_id)


def test_a_new_walk_in_typed_by_name_gets_the_gift(page, live_server, live_app, evening):
    event_id = evening["event_id"]
    sign_in(page, live_server, "staff")
    page.goto(f"{live_server}/checkin/{event_id}")
    page.locator("[data-scan-input]").fill("临时王")
    page.get_by_test_id("register-walk-in").click()
    assert page.get_by_label("姓名").input_value() == "临时王"  # carried from the search
    page.get_by_label("手机号", exact=True).fill("13712345679")
    page.get_by_label("归属业务员").select_option(label="刘芳")
    page.get_by_test_id("walk-in-submit").click()
    page.get_by_test_id("check-in-result").filter(has_text="临时王").wait_for()
    page.wait_for_function("() => window.htmx && document.readyState === 'complete'")
    page.get_by_test_id("give-gift").click()  # as a person taps: once the page is ready
    page.get_by_test_id("gift-issued").wait_for()
    from models import customers
    with live_app.app_context():
        customer_id = customers.find_by_phone("13712345679").id
        db.session.remove()
    assert gifts_of(live_app, event_id, customer_id) == {"attendance": 1}


def test_a_guest_found_again_by_search_gets_the_gift_and_a_second_scan_is_information(
        page, live_server, live_app, evening):
    from models import events
    event_id = evening["event_id"]
    customer_id, name, phone = evening["invited"]
    with live_app.app_context():
        invitation = db.session.scalar(select(events.Invitation).where(
            events.Invitation.event_id == event_id, events.Invitation.customer_id == customer_id))
        card = invitation.token
        db.session.remove()
    sign_in(page, live_server, "staff")
    page.goto(f"{live_server}/checkin/{event_id}")
    box = page.locator("[data-scan-input]")
    box.fill(card)
    box.press("Enter")
    page.get_by_test_id("check-in-result").filter(has_text=name).wait_for()
    box.fill(card)  # the card again: normal at a door, not a warning
    box.press("Enter")
    again = page.get_by_test_id("check-in-result").filter(has_text="已于")
    again.wait_for()
    assert "alert-info" in again.get_attribute("class")
    assert "{" not in again.inner_text()  # every slot filled
    box.fill(national(phone)[-4:])  # found again by search: the gift is one tap away
    match = page.get_by_test_id("match").filter(has_text=name)
    match.wait_for()
    assert "{" not in match.inner_text()
    match.get_by_test_id("match-give-gift").click()
    page.get_by_test_id("gift-issued").wait_for()
    assert gifts_of(live_app, event_id, customer_id) == {"attendance": 1}
