"""A marketer on a tablet invites three customers to an event from a filtered list."""
import re
from datetime import timedelta

import pytest

from extensions import db
from tests.browser.test_navigation import sign_in


@pytest.fixture
def open_event(live_app):
    from models import accounts, events
    from models.base import utcnow
    with live_app.app_context():
        manager = accounts.find_user_by_username("manager")
        start = utcnow() + timedelta(days=7)
        event = events.create_event(title="冬季养生讲座", kind="lecture", venue="幸福酒店",
                                    starts_at=start, ends_at=start + timedelta(hours=3),
                                    capacity=80, actor=manager)
        events.change_event_status(event, "open", actor=manager)
        db.session.commit()
        event_id = event.id
        db.session.remove()
    return event_id


@pytest.mark.parametrize("viewport", [{"width": 1024, "height": 768}])
def test_marketer_invites_three_customers_from_a_filtered_list(page, live_server, open_event,
                                                               screenshot, viewport):
    page.set_viewport_size(viewport)
    sign_in(page, live_server, "marketer")
    page.goto(f"{live_server}/customers/?status=active&sort=name")
    boxes = page.get_by_test_id("select-customer")
    boxes.first.wait_for()
    assert boxes.count() >= 6  # 刘芳's own customers only (other tests may add walk-ins)
    owners = page.get_by_test_id("customers-table").locator("tbody tr td:nth-child(5)")
    assert {owners.nth(i).inner_text() for i in range(owners.count())} == {"刘芳"}
    for i in range(3):
        boxes.nth(i).check()
    page.get_by_label("会议").select_option(str(open_event))
    screenshot("customers-bulk-invite")
    page.get_by_test_id("bulk-invite").click()
    page.wait_for_url(re.compile(r"/customers/"))
    assert "已邀约 3 位顾客参加 冬季养生讲座" in page.locator(".alert-success").inner_text()
    page.goto(f"{live_server}/events/{open_event}/invitations")
    rows = page.get_by_test_id("invitations-table").locator("tbody tr")
    assert rows.count() == 3
    screenshot("event-invitations")


def test_manager_sees_the_event_page_with_counts(page, live_server, open_event, screenshot):
    sign_in(page, live_server, "manager")
    page.goto(f"{live_server}/events/{open_event}")
    assert "冬季养生讲座" in page.locator("h1").inner_text()
    assert page.get_by_test_id("event-status").inner_text() == "邀约中"
    assert page.evaluate("document.documentElement.scrollWidth") <= 1024
    screenshot("event-page")


def test_marketer_taps_the_intent_of_a_guest_who_came(page, live_server, live_app, screenshot):
    """At the event, on the tablet: the guest who came has the four intents on their row; a tap
    on 强烈 records it (the customer's latest, named with the event)."""
    from models import accounts, events
    from models.base import new_token, utcnow
    from models.checkin import check_in
    from models.customers import Customer
    with live_app.app_context():
        manager = accounts.find_user_by_username("manager")
        marketer = accounts.find_user_by_username("marketer")
        start = utcnow() - timedelta(minutes=30)
        event = events.create_event(title="到场意向讲座", kind="lecture", venue="幸福酒店",
                                    starts_at=start, ends_at=start + timedelta(hours=3),
                                    capacity=80, actor=manager)
        events.change_event_status(event, "open", actor=manager)
        customer = db.session.scalars(db.select(Customer).where(
            Customer.owner_id == marketer.id).order_by(Customer.id)).first()
        invitation = events.invite(event, customer, actor=marketer)
        events.change_event_status(event, "in_progress", actor=manager)
        check_in(event, invitation, actor=manager, token=new_token())
        db.session.commit()
        event_id, customer_id, name = event.id, customer.id, customer.name
        db.session.remove()
    page.set_viewport_size({"width": 1024, "height": 768})
    sign_in(page, live_server, "marketer")
    page.goto(f"{live_server}/events/{event_id}/invitations")
    page.get_by_test_id("event-intent").get_by_role("button", name="强烈").click()
    page.locator(".alert-success").filter(has_text=f"{name}：购买意向“强烈”").wait_for()
    assert page.get_by_test_id("event-intent").get_by_role(
        "button", name="强烈").get_attribute("aria-pressed") == "true"
    screenshot("event-intent")
    with live_app.app_context():
        assert db.session.get(Customer, customer_id).intent == "strong"
        db.session.remove()
