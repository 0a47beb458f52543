"""Seating on tablets, by taps: a manager moves a guest to another table before the day (a full
table asks for a reason, then takes the guest), the door's scan answers with the table planned
at the inviter's, and event staff move the guest after check-in. At 1024×768 and 800×1280."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from extensions import db
from tests.browser.test_door import LANDSCAPE, PORTRAIT, open_door, snap, tablet


@pytest.fixture
def planned_event(live_app, request):
    """An open event for 10 people staffed by 赵敏: table 1 (3 seats) hosted by 刘芳, table 2 (6) by 陈伟,
    table 3 (2) without a host; 刘芳's guests A (with a companion) and B at table 1, 陈伟's guest
    C at table 2 — planned when they were confirmed."""
    from models import accounts, customers, events, seating
    from models.base import utcnow
    with live_app.app_context():
        manager = accounts.find_user_by_username("manager")
        staff = accounts.find_user_by_username("staff")
        liu, chen = (accounts.find_user_by_username(name) for name in ("marketer", "marketer2"))
        start = utcnow() + timedelta(hours=1)
        event = events.create_event(title=f"排座演练 {request.node.callspec.id}",
                                    kind="lecture", venue="幸福酒店", starts_at=start,
                                    ends_at=start + timedelta(hours=3), capacity=10,
                                    actor=manager)
        events.change_event_status(event, "open", actor=manager)
        events.set_event_staff(event, [staff], actor=manager)
        tables = [events.save_table(event, number=n, seats=seats, host=host, actor=manager)
                  for n, seats, host in ((1, 3, liu), (2, 6, chen), (3, 2, None))]
        guests = {}
        for key, marketer, companions in (("A", liu, 1), ("B", liu, 0), ("C", chen, 0)):
            customer = db.session.scalars(select(customers.Customer).where(
                customers.Customer.owner_id == marketer.id, customers.Customer.status != "pool",
                customers.Customer.id.not_in([g["customer_id"] for g in guests.values()]))
                .order_by(customers.Customer.id)).first()
            invitation = events.invite(event, customer, actor=marketer, companions=companions)
            seating.change_invitation(invitation, "confirmed", actor=marketer)
            guests[key] = {"name": customer.name, "code": invitation.token,
                           "customer_id": customer.id, "id": invitation.id,
                           "table": invitation.table.number}
        db.session.commit()
        event_id = event.id
        db.session.remove()
    assert [guests[k]["table"] for k in "ABC"] == [1, 1, 2]  # the inviter's tables
    return event_id, guests


def table_of(live_app, invitation_id):
    from models import events
    with live_app.app_context():
        invitation = db.session.get(events.Invitation, invitation_id)
        number = invitation.table.number if invitation.table else None
        db.session.remove()
    return number


def move(page, guest, table):
    """Tap the guest, then "移到这桌" on the table."""
    page.get_by_test_id("guest").filter(has_text=guest).first.click()
    page.get_by_test_id("move-panel").wait_for()
    page.get_by_test_id("seating-table").filter(has_text=f"{table} 号桌") \
        .get_by_test_id("move-here").click()


def assert_touch_targets(page):
    for testid in ("guest", "move-here"):
        boxes = page.get_by_test_id(testid)
        for i in range(boxes.count()):
            if boxes.nth(i).evaluate("el => el.tagName") in ("A", "BUTTON"):
                assert boxes.nth(i).bounding_box()["height"] >= 44, testid


@pytest.mark.parametrize("viewport", [LANDSCAPE, PORTRAIT], ids=["1024x768", "800x1280"])
def test_move_before_and_after_check_in_and_the_door_shows_the_planned_table(
        browser, live_server, live_app, planned_event, viewport):
    event_id, guests = planned_event
    size = f"{viewport['width']}x{viewport['height']}"
    a, b, c = (guests[k]["name"] for k in "ABC")

    # Before the day: the manager opens the seating page from the event page and moves B.
    context, page = tablet(browser, live_server, "manager", viewport)
    page.goto(f"{live_server}/events/{event_id}")
    assert "已确认 4 人（含同行人员），容量 10 人。" in page.get_by_test_id(
        "confirmed-people").inner_text()
    assert "桌子共 11 座，超过会议容量 10 人。" in page.get_by_test_id("seats-warning").inner_text()
    snap(page, f"seating-event-page-{size}")
    page.get_by_role("link", name="座位安排").click()
    page.get_by_test_id("seating-summary").wait_for()
    assert "3/3" in page.get_by_test_id("seating-table").filter(has_text="1 号桌").inner_text()
    snap(page, f"seating-{size}")
    page.get_by_test_id("guest").filter(has_text=b).click()
    page.get_by_test_id("move-panel").wait_for()
    assert_touch_targets(page)
    snap(page, f"seating-selected-{size}")
    page.get_by_test_id("seating-table").filter(has_text="3 号桌") \
        .get_by_test_id("move-here").click()
    page.get_by_text(f"已把{b}移到3 号桌。").wait_for()
    assert table_of(live_app, guests["B"]["id"]) == 3
    # A comes as two; table 3 has one seat left: the manager is asked for a reason.
    move(page, a, 3)
    page.get_by_test_id("move-panel").get_by_text("超额安排请填写理由").wait_for()
    assert table_of(live_app, guests["A"]["id"]) == 1
    snap(page, f"seating-full-{size}")
    page.get_by_label("超出座位安排的理由").fill("母女坐一起")
    page.get_by_test_id("seating-table").filter(has_text="3 号桌") \
        .get_by_test_id("move-here").click()
    page.get_by_text(f"已把{a}移到3 号桌。").wait_for()
    assert table_of(live_app, guests["A"]["id"]) == 3
    assert "超出 1 人" in page.get_by_test_id("seating-table").filter(
        has_text="3 号桌").inner_text()
    context.close()

    # On the day: a scan of C's card answers with C's planned table, at C's marketer's.
    context, page = tablet(browser, live_server, "staff", viewport)
    open_door(page, live_server, event_id, 3)
    box = page.locator("[data-scan-input]")
    box.type(guests["C"]["code"])
    box.press("Enter")
    page.get_by_test_id("check-in-result").filter(has_text="签到成功").wait_for()
    assert "2 号桌" in page.get_by_test_id("table").inner_text()
    snap(page, f"seating-door-scan-{size}")
    # After check-in the staff move C to table 1; B, not here yet, is not theirs to move.
    page.goto(f"{live_server}/checkin/{event_id}/room")
    page.get_by_role("link", name="座位安排").click()
    page.get_by_test_id("seating-summary").wait_for()
    assert page.get_by_test_id("guest").filter(has_text=b).evaluate("el => el.tagName") == "DIV"
    move(page, c, 1)
    page.get_by_text(f"已把{c}移到1 号桌。").wait_for()
    assert table_of(live_app, guests["C"]["id"]) == 1
    snap(page, f"seating-after-check-in-{size}")
    page.goto(f"{live_server}/checkin/{event_id}/room")
    first = page.get_by_test_id("room-table").filter(has_text="1 号桌")
    assert "已到 1 人，待到 0 人" in first.inner_text() and c in first.inner_text()
    assert f"未到：{a} +1、{b}" in page.get_by_test_id("room-table").filter(
        has_text="3 号桌").inner_text() or f"未到：{b}、{a} +1" in page.get_by_test_id(
        "room-table").filter(has_text="3 号桌").inner_text()
    snap(page, f"seating-room-{size}")
    context.close()
