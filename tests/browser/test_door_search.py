"""The door tablet's offline search agrees with the server's: the page's own search module,
run in Chromium on the guest list the tablet keeps, against the cases the server's search is
held to (tests/data/door_search_cases.json, tests/models/test_door_search.py). Then staff type
into the box offline and tap a match."""
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from extensions import db
from tests.browser.test_door import LANDSCAPE, drained, open_door, snap, tablet
from tests.door_search import CASES, invite_guests, typed


@pytest.fixture(scope="module")
def guests_at_the_door(live_app):
    """An open event with the cases' guests invited, customers of a marketer of their own (so
    no other test's lists change); (event id, {name: card code})."""
    from models import accounts, events
    from models.base import utcnow
    with live_app.app_context():
        manager = accounts.find_user_by_username("manager")
        marketer = accounts.create_user(
            username="door-cases", display_name="吴晓", password="doorcases2026",
            roles=["marketer"], department=manager.department, actor=manager)
        start = utcnow() + timedelta(hours=1)
        event = events.create_event(title="搜索对照", kind="lecture", venue="幸福酒店",
                                    starts_at=start, ends_at=start + timedelta(hours=3),
                                    capacity=100, actor=manager)
        events.change_event_status(event, "open", actor=manager)
        invitations = invite_guests(event, marketer)
        db.session.commit()
        found = event.id, {name: i.token for name, i in invitations.items()}
        db.session.remove()
    return found


def kept_list_search(page, event_id, texts):
    """(the names of the tablet's kept list in its order, the names search.js finds for each
    text), from the page's own module."""
    return page.evaluate("""async ([eventId, texts]) => {
        const { search } = await import("/static/js/door/search.js");
        const roster = await new Promise((done) => {
            indexedDB.open("hxt-door").onsuccess = (event) => {
                const get = event.target.result.transaction("rosters").objectStore("rosters")
                    .get(eventId);
                get.onsuccess = () => done(get.result);
            };
        });
        return [roster.guests.map((g) => g.name),
                texts.map((text) => search(roster.guests, text).map((g) => g.name))];
    }""", [event_id, texts])


def test_the_tablet_finds_offline_what_the_server_finds(browser, live_server, guests_at_the_door):
    event_id, codes = guests_at_the_door
    context, page = tablet(browser, live_server, "manager", LANDSCAPE)
    open_door(page, live_server, event_id, len(CASES["guests"]))
    context.set_offline(True)
    texts = [typed(case, codes) for case in CASES["cases"]]
    order, found = kept_list_search(page, event_id, texts)
    for case, names in zip(CASES["cases"], found):
        expected = set(case["finds"]) | set(case.get("tablet_also", ()))
        assert names == [name for name in order if name in expected], case
        assert case["finds"] == [name for name in names if name in case["finds"]], case
    context.close()


def test_staff_type_offline_and_tap_a_match(browser, live_server, live_app, guests_at_the_door):
    from models.checkin import CheckIn
    event_id, _codes = guests_at_the_door
    context, page = tablet(browser, live_server, "manager", LANDSCAPE)
    open_door(page, live_server, event_id, len(CASES["guests"]))
    context.set_offline(True)
    box = page.locator("[data-scan-input]")
    matches = page.get_by_test_id("match")

    def names_for(text):
        box.fill(text)
        box.press("Enter")  # searches at once (as typing does after a pause)
        return [m.locator("[data-slot=name]").inner_text() for m in matches.all()]

    assert names_for("秀兰") == ["欧阳秀兰", "张秀兰"]  # by the middle of the name
    snap(page, "door-search-middle-1024")
    assert names_for("923") == ["王芳"]  # a customer number
    assert names_for("xiulan") == []
    assert "没有" in page.get_by_test_id("no-match").inner_text()
    assert names_for("1234") == ["王芳"]
    matches.filter(has_text="王芳").get_by_test_id("check-in").click()
    page.get_by_test_id("check-in-result").filter(has_text="王芳").wait_for()
    context.set_offline(False)
    drained(page)
    # Found again, her card says when and by whom she came in.
    assert names_for("1234") == ["王芳"]
    came_in = matches.first.locator("[data-slot=checked-in]").inner_text()
    assert re.fullmatch(r"\d\d:\d\d 由 李明华 签到。", came_in), came_in
    with live_app.app_context():
        assert db.session.scalar(select(func.count(CheckIn.id)).where(
            CheckIn.event_id == event_id)) == 1
        db.session.remove()
    context.close()
