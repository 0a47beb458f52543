"""The gift desk on a tablet, landscape 1024×768 and portrait 800×1280: the warehouse clerk signs
in, opens the desk from the gifts page, gives a walk-in and a guest with companions their gifts
in one tap each, and sees each row move from 到场未领 to 已发放 and the stock drop."""
import re
from datetime import timedelta

from playwright.sync_api import expect
import pytest
from sqlalchemy import select

from extensions import db
from tests.browser.conftest import ARTIFACTS
from tests.browser.test_navigation import sign_in


def desk_event(live_app, title):
    """An event in progress with the rule (a cup per arrival, one more per companion), an
    invited guest who came with one companion and a walk-in who came with two."""
    from models import accounts, checkin, door, events, gifts, inventory
    from models.base import new_token, utcnow
    from models.customers import Customer
    with live_app.app_context():
        manager = accounts.find_user_by_username("manager")
        staff = accounts.find_user_by_username("staff")
        marketer = accounts.find_user_by_username("marketer2")
        start = utcnow() + timedelta(hours=1)
        event = events.create_event(title=title, kind="lecture", venue="会展中心",
                                    starts_at=start, ends_at=start + timedelta(hours=3),
                                    capacity=100, actor=manager)
        events.change_event_status(event, "open", actor=manager)
        events.set_event_staff(event, [staff], actor=manager)
        gifts.save_rule(None, event=event, kind="attendance", product=inventory.product_by_code(
            "GF-201"), quantity=1, companion_quantity=1, actor=manager)
        guest = db.session.scalars(select(Customer).where(Customer.owner_id == marketer.id)
                                   .order_by(Customer.id)).first()
        invitation = events.invite(event, guest, actor=marketer)
        checkin.check_in(event, invitation, actor=staff, token=new_token(), companions=1)
        walk_in_name = f"散客{event.id}"
        door.register_walk_in(event, name=walk_in_name, phone=f"1370000{event.id:04d}",
                              actor=staff, token=new_token(), owner=marketer, companions=2)
        db.session.commit()
        ids = {"event": event.id, "guest": guest.name, "walk_in": walk_in_name}
        db.session.remove()
    return ids


def left(page):
    return int(re.search(r"(\d+)", page.get_by_test_id("desk-left").first.inner_text())[1])


@pytest.mark.parametrize("width,height", [(1024, 768), (800, 1280)])
def test_the_clerk_gives_a_walk_in_and_companions_their_gifts(page, browser, live_server,
                                                             live_app, screenshot, width,
                                                             height):
    title = f"礼品台讲座{width}"
    ids = desk_event(live_app, title)
    page.set_viewport_size({"width": width, "height": height})
    sign_in(page, live_server, "warehouse")
    page.goto(f"{live_server}/gifts/")
    page.get_by_test_id("gift-events").get_by_role("row").filter(has_text=title) \
        .get_by_test_id("gift-desk-link").click()
    page.wait_for_url(f"{live_server}/gifts/events/{ids['event']}/desk")
    waiting, given = page.get_by_test_id("desk-to-give"), page.get_by_test_id("desk-given")
    assert page.get_by_test_id("desk-to-give-count").inner_text() == "2"
    before = left(page)
    screenshot(f"gift-desk-{width}x{height}-before")
    # The event staff has the desk open on another tablet, drawn before the clerk's taps.
    other = browser.new_page(viewport={"width": width, "height": height})
    sign_in(other, live_server, "staff")
    other.goto(f"{live_server}/gifts/events/{ids['event']}/desk")

    walk_in = waiting.get_by_test_id("desk-row").filter(has_text=ids["walk_in"])
    assert "临时到场" in walk_in.inner_text() and "陪同礼：养生保温杯 × 2" in walk_in.inner_text()
    box = walk_in.get_by_test_id("desk-give").bounding_box()
    assert box["width"] >= 44 and box["height"] >= 44
    walk_in.get_by_test_id("desk-give").click()
    moved = given.get_by_test_id("desk-row").filter(has_text=ids["walk_in"])
    moved.wait_for()
    assert waiting.get_by_test_id("desk-row").filter(has_text=ids["walk_in"]).count() == 0
    assert "✓ 到场礼" in moved.inner_text() and "✓ 陪同礼：养生保温杯 × 2" in moved.inner_text()
    assert left(page) == before - 3  # one for the walk-in, one each for two companions
    assert page.get_by_test_id("desk-to-give-count").inner_text() == "1"

    other.get_by_test_id("desk-to-give").get_by_test_id("desk-row").filter(
        has_text=ids["walk_in"]).get_by_test_id("desk-give").click()
    told = other.get_by_test_id("desk-given").get_by_test_id("desk-message")
    told.wait_for()  # not an error page: the row moves, saying who gave the gift and when
    assert re.fullmatch(rf"{ids['walk_in']} 已于 \d\d:\d\d 由 孙强 发放过到场礼。",
                        told.inner_text())
    other.screenshot(path=str(ARTIFACTS / f"gift-desk-{width}x{height}-told.png"),
                     full_page=True)
    other.close()
    assert left(page) == before - 3

    guest = waiting.get_by_test_id("desk-row").filter(has_text=ids["guest"])
    guest.get_by_test_id("desk-give").click()
    given.get_by_test_id("desk-row").filter(has_text=ids["guest"]).wait_for()
    assert waiting.get_by_test_id("desk-row").count() == 0
    expect(page.get_by_text("没有待领赠品的顾客。")).to_be_visible()  # once htmx settles
    assert left(page) == before - 5
    assert page.get_by_test_id("desk-to-give-count").inner_text() == "0"
    assert page.get_by_test_id("desk-given-count").inner_text() == "2"
    # The given list is latest first: the guest just given is on top.
    assert ids["guest"] in given.get_by_test_id("desk-row").first.inner_text()
    screenshot(f"gift-desk-{width}x{height}-after")

    page.reload()  # what the server says agrees with what the taps showed
    assert page.get_by_test_id("desk-given").get_by_test_id("desk-row").count() == 2
    assert left(page) == before - 5
    search = page.get_by_test_id("desk-search")
    search.fill(ids["walk_in"])
    page.get_by_test_id("desk-given").get_by_test_id("desk-row").filter(
        has_text=ids["guest"]).wait_for(state="detached")
    assert page.get_by_test_id("desk-given").get_by_test_id("desk-row").count() == 1
