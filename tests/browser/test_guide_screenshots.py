"""The guide's screenshots (帮助), taken by walking each role's five daily things on the demo
company at 1024×768: static/guide/<role>/<n>.png, committed so the guide works on a fresh clone,
and refreshed here whenever a screen has changed, so they never go stale. Each screen must
still carry the title the guide names (the guide's words are checked against the app)."""
import io
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image, ImageChops
from sqlalchemy import select

import jobs
from blueprints.guide.content import GUIDES
from extensions import db
from formatting import local_day
from tests.browser.conftest import fresh_app, serving
from tests.browser.test_navigation import PASSWORDS

STATIC = Path(__file__).resolve().parents[2] / "static" / "guide"
#: Saved size: readable, and the whole set stays small.
SIZE = (800, 600)
#: A screenshot is rewritten when more of its pixels than this changed (a date or a number that
#: moves every day does not churn the committed files; a changed screen does).
CHANGED = 0.02
#: The demo user walking each role's guide.
USERNAMES = {"marketer": "marketer", "event_staff": "staff", "warehouse": "warehouse",
             "finance": "finance", "dept_head": "depthead", "manager": "manager",
             "admin": "admin"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo company with a day of work in it: an open event with invitations, arrivals and a
    gift rule, a deal half paid with goods left in custody, a sale of three days ago (so the
    callbacks are due), the nightly tasks written. Yields (base URL, ids)."""
    from blueprints.admin.commands import load_demo_data
    from models import accounts, checkin, customers, events, gifts, inventory, order_taking, \
        orders
    from models.base import new_token, utcnow
    app = fresh_app(tmp_path_factory.mktemp("guide"))
    with app.app_context():
        load_demo_data(echo=lambda *a: None)
        user = accounts.find_user_by_username
        manager, staff, finance = user("manager"), user("staff"), user("finance")
        marketer, marketer2 = user("marketer"), user("marketer2")
        main = db.session.scalar(select(inventory.Warehouse).where(
            inventory.Warehouse.code == "MAIN"))
        start = utcnow() + timedelta(hours=1)
        event = events.create_event(title="春季养生讲座", kind="lecture", venue="幸福大酒店",
                                    starts_at=start, ends_at=start + timedelta(hours=3),
                                    capacity=60, actor=manager)
        events.change_event_status(event, "open", actor=manager)
        events.set_event_staff(event, [staff], actor=manager)
        for number, host in ((1, marketer), (2, marketer2)):
            events.save_table(event, number=number, seats=10, host=host, actor=manager)
        gifts.set_event_warehouse(event, main, actor=manager)
        gifts.save_rule(None, event=event, kind="attendance", quantity=1, actor=manager,
                        product=inventory.product_by_code("GF-201"), name="到场礼")
        guests = {}
        for owner in (marketer, marketer2):
            for customer in db.session.scalars(select(customers.Customer).where(
                    customers.Customer.owner_id == owner.id).order_by(customers.Customer.id)
                    .limit(4)):
                guests[customer.name] = events.invite(event, customer, actor=owner)
        for name in ("张秀兰", "王桂英", "杨振华"):
            checkin.check_in(event, guests[name], actor=staff, token=new_token())
        buyer = guests["张秀兰"].customer
        order = order_taking.create_order(
            buyer, lines=[{"product": inventory.product_by_code("LZ-001"), "quantity": 4,
                           "held": 3}], actor=marketer, token=new_token(), warehouse=main,
            event=event)
        orders.receive_payment(order, amount=30000, method="wechat", actor=marketer,
                               token=new_token())
        earlier = guests["李建国"].customer
        past = order_taking.create_order(
            earlier, lines=[{"product": inventory.product_by_code("YY-002"), "quantity": 2}],
            actor=marketer, token=new_token(), warehouse=main, channel="store",
            now=utcnow() - timedelta(days=3))
        orders.receive_payment(past, amount=past.total, method="cash", actor=finance,
                               token=new_token())
        db.session.commit()
        ids = {"event": event.id, "customer": buyer.id, "order": order.id}
        db.session.remove()
    today = local_day(utcnow())
    for job in ("callbacks", "care", "arrears"):
        jobs.run_job(app, job, today)
    with serving(app) as url:
        yield url, ids


def sign_in(page, base, role):
    username = USERNAMES[role]
    page.goto(f"{base}/auth/login")
    page.get_by_label("登录名").fill(username)
    page.get_by_label("密码").fill(PASSWORDS[username])
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{base}/")


def save(png, path):
    """Shrink and palette the screenshot; write it unless the committed one is close enough.
    Returns True when the file was (re)written."""
    image = Image.open(io.BytesIO(png)).convert("RGB").resize(SIZE, Image.LANCZOS)
    small = image.quantize(colors=128, method=Image.Quantize.MEDIANCUT)
    if path.exists():
        with Image.open(path) as old:
            old = old.convert("RGB")
            if old.size == SIZE:
                diff = ImageChops.difference(old, small.convert("RGB")).convert("L")
                changed = sum(diff.point(lambda v: 255 if v > 24 else 0).histogram()[255:])
                if changed / (SIZE[0] * SIZE[1]) <= CHANGED:
                    return False
    path.parent.mkdir(parents=True, exist_ok=True)
    small.save(path, optimize=True)
    return True


@pytest.mark.parametrize("role", list(GUIDES))
def test_walk_the_guide_and_take_its_screenshots(page, demo, role):
    base, ids = demo
    guide = GUIDES[role]
    assert len(guide.tasks) == 5
    sign_in(page, base, role)
    for task in guide.tasks:
        page.goto(base + task.path.format(**ids))
        if task.search:  # the door: type as the door staff would, then let the list filter
            page.locator("#code").fill(task.search)
            page.wait_for_timeout(400)
        page.wait_for_load_state("networkidle")
        heading = page.title() + " " + " ".join(page.locator("main h1").all_inner_texts())
        assert task.screen in heading, (role, task.number, heading)
        save(page.screenshot(), STATIC / guide.role / f"{task.number}.png")


def test_help_link_opens_the_section_of_the_page(page, demo, screenshot):
    base, _ids = demo
    sign_in(page, base, "finance")
    page.goto(f"{base}/orders/close")
    page.get_by_test_id("help-link").click()
    page.wait_for_url(f"{base}/guide/finance#task-3")
    page.wait_for_load_state("networkidle")
    section = page.locator("#task-3")
    assert "日结" in section.locator("h2").inner_text()
    box = section.bounding_box()
    assert 0 <= box["y"] < 200  # scrolled to it, not left at the top of the page
    image = section.locator("img")
    assert image.evaluate("img => img.complete && img.naturalWidth") == SIZE[0]
    assert page.evaluate("document.documentElement.scrollWidth") <= 1024
    screenshot("guide-finance-close")


@pytest.mark.parametrize("role", ["admin", "manager"])
def test_the_longest_menus_with_help_stay_on_one_row(page, demo, role):
    base, _ids = demo
    sign_in(page, base, role)
    help_link = page.get_by_test_id("help-link")
    assert help_link.is_visible() and help_link.inner_text() == "帮助"
    # One row: every link as tall as one line, the bar no taller than a link and its padding.
    heights = page.locator(".navbar .nav-link").evaluate_all(
        "links => links.map(link => link.getBoundingClientRect().height)")
    assert max(heights) < 50, heights
    assert page.locator(".navbar").bounding_box()["height"] < 70
