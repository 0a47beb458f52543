"""Capacity counts people, clicked on a tablet (issue 24 A6): an event for 6 people holds two
confirmed guests with two companions each (6 people). A marketer taps 确认 for a third guest and
is told the event is full, counting companions; nothing changes. A manager types a reason and taps
确认: the guest is confirmed over capacity, marked so on the list. At 1024×768 and 800×1280."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from extensions import db
from tests.browser.test_door import LANDSCAPE, PORTRAIT, snap, tablet


@pytest.fixture
def full_event(live_app, request):
    from models import accounts, customers, events, seating
    from models.base import utcnow
    with live_app.app_context():
        manager = accounts.find_user_by_username("manager")
        liu = accounts.find_user_by_username("marketer")
        start = utcnow() + timedelta(days=2)
        event = events.create_event(title=f"容量演练 {request.node.callspec.id}", kind="lecture",
                                    venue="幸福酒店", starts_at=start,
                                    ends_at=start + timedelta(hours=3), capacity=6,
                                    actor=manager)
        events.change_event_status(event, "open", actor=manager)
        mine = db.session.scalars(select(customers.Customer).where(
            customers.Customer.owner_id == liu.id, customers.Customer.status != "pool")
            .order_by(customers.Customer.id).limit(3)).all()
        for customer in mine[:2]:
            seating.change_invitation(events.invite(event, customer, actor=liu, companions=2),
                                      "confirmed", actor=liu)
        third = events.invite(event, mine[2], actor=liu, companions=0)
        db.session.commit()
        ids = event.id, third.id, mine[2].name
        db.session.remove()
    return ids


def status_of(live_app, invitation_id):
    from models import events
    with live_app.app_context():
        invitation = db.session.get(events.Invitation, invitation_id)
        found = invitation.status, invitation.override_reason
        db.session.remove()
    return found


@pytest.mark.parametrize("viewport", [LANDSCAPE, PORTRAIT], ids=["1024x768", "800x1280"])
def test_a_full_event_counts_companions_and_a_manager_confirms_over_it(
        browser, live_server, live_app, full_event, viewport):
    event_id, invitation_id, name = full_event
    context, page = tablet(browser, live_server, "marketer", viewport)
    page.goto(f"{live_server}/events/{event_id}/invitations")
    row = page.locator("tr").filter(has_text=name)
    row.get_by_role("button", name="确认").click()
    alert = page.locator(".alert-danger, .invalid-feedback, .alert-warning").first
    alert.wait_for()
    text = alert.inner_text()
    assert "6" in text and ("人" in text or "座" in text), text
    assert status_of(live_app, invitation_id)[0] == "invited"
    snap(page, f"capacity-refused-{viewport['width']}")
    context.close()

    context, page = tablet(browser, live_server, "manager", viewport)
    page.goto(f"{live_server}/events/{event_id}/invitations")
    row = page.locator("tr").filter(has_text=name)
    row.get_by_role("button", name="确认").click()  # without a reason: still refused
    page.locator(".alert-danger, .invalid-feedback, .alert-warning").first.wait_for()
    assert status_of(live_app, invitation_id)[0] == "invited"
    row = page.locator("tr").filter(has_text=name)
    row.locator("input[name=override_reason]").fill("老会员带家属，加一桌")
    row.get_by_role("button", name="确认").click()
    page.locator("tr").filter(has_text=name).get_by_text("超容量").wait_for()
    assert status_of(live_app, invitation_id) == ("confirmed", "老会员带家属，加一桌")
    snap(page, f"capacity-override-{viewport['width']}")
    context.close()
