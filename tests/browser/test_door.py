"""The door on a bad network, on tablets: two tablets without the network check the same guest
in and give the gift; back online the server holds one check-in and one gift and both tablets'
staff see the conflict. A scan checks in with no tap, offline too, and the screen reopens
without the network. Closing the event clears the tablet's list; what it queued is refused."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from extensions import db
from tests.browser.conftest import ARTIFACTS
from tests.browser.test_navigation import sign_in

LANDSCAPE = {"width": 1024, "height": 768}
PORTRAIT = {"width": 800, "height": 1280}


@pytest.fixture
def event_at_the_door(live_app):
    """An open event with the door gift, staffed by 赵敏, and two invited guests at table 6."""
    from models import accounts, customers, events, gifts, inventory
    from models.base import utcnow
    with live_app.app_context():
        manager = accounts.find_user_by_username("manager")
        staff = accounts.find_user_by_username("staff")
        marketer = accounts.find_user_by_username("marketer")
        start = utcnow() + timedelta(hours=1)
        event = events.create_event(title="断网签到演练", kind="lecture", venue="幸福酒店",
                                    starts_at=start, ends_at=start + timedelta(hours=3),
                                    capacity=100, actor=manager)
        events.change_event_status(event, "open", actor=manager)
        events.set_event_staff(event, [staff], actor=manager)
        gifts.save_rule(None, event=event, kind="attendance", actor=manager, quantity=1,
                        product=inventory.product_by_code("GF-201"))
        table = events.save_table(event, number=6, seats=10, label="寿", host=marketer,
                                  actor=manager)
        guests = []
        for guest in db.session.scalars(select(customers.Customer).where(
                customers.Customer.owner_id == marketer.id).order_by(customers.Customer.id.desc())
                .limit(2)):
            invitation = events.invite(event, guest, actor=marketer)
            invitation.table = table
            guests.append({"name": guest.name, "tail": guest.phone[-4:],
                           "code": invitation.token, "customer_id": guest.id})
        db.session.commit()
        event_id = event.id
        db.session.remove()
    return event_id, guests


def facts(live_app, event_id):
    """(check-ins, attendance gifts, door conflicts) of the event on the server."""
    from models.checkin import CheckIn
    from models.door import DoorConflict
    from models.gifts import GiftIssue
    with live_app.app_context():
        counts = tuple(db.session.scalar(select(func.count(model.id)).where(
            model.event_id == event_id)) for model in (CheckIn, GiftIssue, DoorConflict))
        db.session.remove()
    return counts


def tablet(browser, live_server, username, viewport):
    context = browser.new_context(viewport=viewport, locale="zh-CN")
    page = context.new_page()
    sign_in(page, live_server, username)
    return context, page


def open_door(page, live_server, event_id, guests):
    page.goto(f"{live_server}/checkin/{event_id}")
    page.locator(f"#door-app[data-guests='{guests}']").wait_for()  # the list is on the tablet
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")


def drained(page):
    page.locator("#door-pending-summary").filter(has_text="已全部发送").wait_for()


def snap(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_two_offline_tablets_check_the_same_guest_in_once(browser, live_server, live_app,
                                                          event_at_the_door):
    event_id, [guest, _other] = event_at_the_door
    context_a, a = tablet(browser, live_server, "staff", LANDSCAPE)
    context_b, b = tablet(browser, live_server, "manager", PORTRAIT)
    for page in (a, b):
        open_door(page, live_server, event_id, 2)
    context_a.set_offline(True)
    context_b.set_offline(True)
    # Tablet A finds the guest by phone tail and taps; tablet B scans the card.
    a.locator("[data-scan-input]").fill(guest["tail"])
    a.get_by_test_id("match").first.wait_for()
    snap(a, "door-matches-offline-1024")
    a.get_by_test_id("match").filter(has_text=guest["name"]).get_by_test_id("check-in").click()
    b.locator("[data-scan-input]").type(guest["code"])
    b.locator("[data-scan-input]").press("Enter")
    for page in (a, b):
        result = page.get_by_test_id("check-in-result")
        result.filter(has_text="已在本平板签到").wait_for()
        assert guest["name"] in result.inner_text()
        assert "6 号桌 寿" in page.get_by_test_id("table").inner_text()
        assert "离线" in page.get_by_test_id("network").inner_text()
        assert not page.get_by_test_id("start-deal").is_visible()  # orders need the network
        page.get_by_test_id("give-gift").click()
        page.get_by_test_id("gift-issued").wait_for()
        assert page.get_by_test_id("pending-entry").count() == 2
    snap(a, "door-offline-1024")
    snap(b, "door-offline-800x1280")
    assert facts(live_app, event_id) == (0, 0, 0)  # nothing reached the server yet

    context_a.set_offline(False)
    drained(a)
    assert facts(live_app, event_id) == (1, 1, 0)
    context_b.set_offline(False)
    drained(b)
    assert facts(live_app, event_id) == (1, 1, 2)  # one check-in, one gift, two conflicts
    conflicts = b.get_by_test_id("conflict")
    conflicts.nth(1).wait_for()
    assert conflicts.count() == 2 and guest["name"] in conflicts.first.inner_text()
    assert "已在另一台平板办理" in b.get_by_test_id("conflicts").inner_text()
    snap(b, "door-conflicts-800x1280")
    a.reload()  # tablet A's staff see them too
    a.get_by_test_id("conflict").nth(1).wait_for()
    b.goto(f"{live_server}/events/{event_id}")  # and so does the event page
    assert "已在另一台平板办理" in b.get_by_test_id("door-conflicts").inner_text()
    context_a.close()
    context_b.close()


def test_a_scan_checks_in_with_no_tap_online_and_offline(browser, live_server, live_app,
                                                         event_at_the_door):
    event_id, [first, second] = event_at_the_door
    context, page = tablet(browser, live_server, "manager", LANDSCAPE)
    open_door(page, live_server, event_id, 2)
    box = page.locator("[data-scan-input]")
    assert box.evaluate("el => el === document.activeElement")  # the scanner types here
    box.type(first["code"])
    box.press("Enter")
    page.get_by_test_id("check-in-result").filter(has_text="签到成功").wait_for()
    assert facts(live_app, event_id)[0] == 1
    assert box.input_value() == "" and box.evaluate("el => el === document.activeElement")
    deal = page.get_by_test_id("start-deal")
    assert deal.get_attribute("href").endswith(
        f"/orders/new/{first['customer_id']}?event_id={event_id}")
    snap(page, "door-online-1024")
    # Without the network the screen reopens from the service worker and finds from its list.
    context.set_offline(True)
    page.reload()
    page.locator("#door-app[data-guests='2']").wait_for()
    box.type(second["code"])
    box.press("Enter")
    page.get_by_test_id("check-in-result").filter(has_text=second["name"]).wait_for()
    assert facts(live_app, event_id)[0] == 1
    context.set_offline(False)
    drained(page)
    assert facts(live_app, event_id)[0] == 2
    context.close()


def test_closing_the_event_clears_the_list_and_refuses_what_was_queued(
        browser, live_server, live_app, event_at_the_door):
    from models import accounts, events
    event_id, [guest, _other] = event_at_the_door
    context, page = tablet(browser, live_server, "staff", LANDSCAPE)
    open_door(page, live_server, event_id, 2)
    context.set_offline(True)
    page.locator("[data-scan-input]").type(guest["code"])
    page.locator("[data-scan-input]").press("Enter")
    page.get_by_test_id("check-in-result").filter(has_text="已在本平板签到").wait_for()
    with live_app.app_context():  # the event closes while the tablet is offline
        manager = accounts.find_user_by_username("manager")
        event = db.session.get(events.Event, event_id)
        events.change_event_status(event, "in_progress", actor=manager)
        events.change_event_status(event, "closed", actor=manager)
        db.session.commit()
        db.session.remove()
    context.set_offline(False)
    drained(page)
    page.get_by_test_id("conflict").filter(has_text="会议已结束").wait_for()
    page.locator("#door-app[data-guests='0']").wait_for()  # the list left the tablet
    assert not cached_list(page, event_id)
    assert facts(live_app, event_id) == (0, 0, 1)
    snap(page, "door-closed-1024")
    context.close()


def cached_list(page, event_id):
    """True if this tablet holds the guest list of the event."""
    return page.evaluate("""id => new Promise(done => {
        const open = indexedDB.open("hxt-door");
        open.onsuccess = () => {
            const get = open.result.transaction("rosters").objectStore("rosters").get(id);
            get.onsuccess = () => done(get.result !== undefined);
        };
    })""", event_id)


def test_the_door_list_clears_the_list_of_an_event_that_closed_meanwhile(
        browser, live_server, live_app, event_at_the_door):
    from models import accounts, events
    event_id, _guests = event_at_the_door
    context, page = tablet(browser, live_server, "manager", LANDSCAPE)
    open_door(page, live_server, event_id, 2)
    page.goto(f"{live_server}/checkin/")
    assert cached_list(page, event_id)  # still open: kept
    with live_app.app_context():
        manager = accounts.find_user_by_username("manager")
        event = db.session.get(events.Event, event_id)
        events.change_event_status(event, "cancelled", actor=manager)
        db.session.commit()
        db.session.remove()
    page.reload()
    for _ in range(30):  # the page's script deletes it as it loads
        if not cached_list(page, event_id):
            break
        page.wait_for_timeout(100)
    assert not cached_list(page, event_id)
    context.close()


def qr_video(path, text, width=640, height=480):
    """A camera's view of a card: `text` as a QR code, as a Y4M file Chromium plays as its fake
    camera."""
    import segno
    rows = [list(row) for row in segno.make(text, error="m").matrix_iter(border=4)]
    scale = min(width, height) * 9 // 10 // len(rows)
    left, top = (width - scale * len(rows)) // 2, (height - scale * len(rows)) // 2
    luma = bytearray(b"\xeb" * (width * height))  # white paper
    for y, row in enumerate(rows):
        for x, dark in enumerate(row):
            if dark:
                for dy in range(scale):
                    start = (top + y * scale + dy) * width + left + x * scale
                    luma[start:start + scale] = b"\x10" * scale
    chroma = b"\x80" * (width * height // 2)
    frame = b"FRAME\n" + bytes(luma) + chroma
    path.write_bytes(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode()
                     + frame * 2)
    return path


#: Counts the frames the door's camera script takes from the video (each read draws one and takes
#: its pixels), so a failure tells a camera script that stopped reading from frames it cannot read.
COUNT_FRAMES = """(() => { const take = CanvasRenderingContext2D.prototype.getImageData;
    window.framesTaken = 0;
    CanvasRenderingContext2D.prototype.getImageData = function (...args) {
        window.framesTaken += 1; return take.apply(this, args); }; })();"""


def camera_state(page, path):
    """What the door's camera shows, for a failure's message (any element may be missing): the
    video's state, the frames read, and what the frame in view now is — its grey levels and what
    ZXing reads in it — with the frame itself saved as a picture at `path`."""
    import base64
    state = page.evaluate("""() => { const v = document.querySelector('#door-camera-panel video');
        const text = (selector) => document.querySelector(selector)?.textContent.trim();
        const state = {ready: v?.readyState, width: v?.videoWidth, paused: v?.paused,
                       time: v?.currentTime, frames: window.framesTaken, zxing: !!window.ZXing,
                       note: text('[data-camera-note]'),
                       scan: document.querySelector('[data-scan-input]')?.value,
                       result: text('[data-testid=check-in-result]')};
        if (!v || !v.videoWidth) { return state; }
        const canvas = document.createElement('canvas');
        canvas.width = v.videoWidth;
        canvas.height = v.videoHeight;
        const context = canvas.getContext('2d');
        context.drawImage(v, 0, 0);
        const rgba = context.getImageData(0, 0, canvas.width, canvas.height).data;
        const grey = new Uint8ClampedArray(canvas.width * canvas.height);
        let dark = 0, low = 255, high = 0;
        for (let i = 0; i < grey.length; i += 1) {
            grey[i] = (rgba[4 * i] + 2 * rgba[4 * i + 1] + rgba[4 * i + 2]) >> 2;
            dark += grey[i] < 128; low = Math.min(low, grey[i]); high = Math.max(high, grey[i]);
        }
        Object.assign(state, {dark: +(dark / grey.length).toFixed(3), low, high,
                              picture: canvas.toDataURL('image/png')});
        try {
            const Z = window.ZXing;
            state.reads = new Z.QRCodeReader().decode(new Z.BinaryBitmap(new Z.HybridBinarizer(
                new Z.RGBLuminanceSource(grey, canvas.width, canvas.height)))).getText();
        } catch (error) { state.reads = String(error && (error.name || error)); }
        return state; }""")
    picture = state.pop("picture", None)
    if picture:
        path.write_bytes(base64.b64decode(picture.split(",", 1)[1]))
        state["picture"] = str(path)
    return state


#: The card the camera test shows: one ZXing misses in the fake camera's still, perfectly sharp
#: frame (zxing-js issue 653: 15 of 300 random cards drawn that clean; the camera test failed on
#: CI now and then with a random invitation token — three times in a row with the same card),
#: and reads in the same frame turned a quarter, as the door's camera reads every other frame.
CAMERA_CARD = "XYt4jfJOdCCnVvO1aofZ0-oIEdWMS843"


def test_the_tablet_camera_reads_a_card_and_checks_in_with_no_tap(
        browser_type, browser_type_launch_args, live_server, live_app, event_at_the_door,
        tmp_path):
    from models.events import Invitation
    event_id, [guest, _other] = event_at_the_door
    with live_app.app_context():
        db.session.scalars(select(Invitation).where(Invitation.event_id == event_id,
            Invitation.token == guest["code"])).one().token = CAMERA_CARD
        db.session.commit()
        db.session.remove()
    video = qr_video(tmp_path / "card.y4m", CAMERA_CARD)
    browser = browser_type.launch(**{**browser_type_launch_args, "args": [
        *browser_type_launch_args["args"], "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={video}"]})
    try:
        context = browser.new_context(viewport=PORTRAIT, locale="zh-CN")
        context.grant_permissions(["camera"])
        context.add_init_script(COUNT_FRAMES)
        page = context.new_page()
        sign_in(page, live_server, "staff")
        open_door(page, live_server, event_id, 2)
        page.get_by_test_id("camera").click()  # then no tap: the card is in view
        # The card read shows the guest: 签到成功, or — when a loaded machine answered after the
        # door's send timeout — kept on the tablet and sent by the queue; either way it is read.
        result = page.get_by_test_id("check-in-result").filter(has_text=guest["name"])
        try:  # a loaded CI machine may take a while to start the fake camera
            result.wait_for(timeout=60_000)
        except Exception as error:
            raise AssertionError("the camera did not check the guest in: "
                                 f"{camera_state(page, tmp_path / 'frame.png')}") from error
        for _ in range(300):  # the queue sends what the tablet kept
            if facts(live_app, event_id)[0] == 1:
                break
            page.wait_for_timeout(100)
        assert facts(live_app, event_id)[0] == 1
        snap(page, "door-camera-800x1280")
        context.close()
    finally:
        browser.close()
