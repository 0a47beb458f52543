"""The deal, the cashier and the pickup desk in few taps (issue #24 D): a package with a deposit
from the customer page in at most five taps; finance's order page at 1024 px with no label
broken a character a line, the amount due already in the box and the refund out of the way;
everything held handed over with 全部可领 and one more tap."""
import itertools
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from extensions import db
from tests.browser.test_navigation import sign_in

VIEWPORTS = [{"width": 1024, "height": 768}, {"width": 800, "height": 1280}]
_numbers = itertools.count(1)


class Taps:
    """Clicks and fills (typing a number is one), counted."""

    def __init__(self):
        self.count = 0

    def click(self, locator):
        self.count += 1
        locator.click()

    def fill(self, locator, text):
        self.count += 1
        locator.fill(text)


def _checked_in_customer(live_app, name):
    """A new customer of the marketer, invited to an event on today and checked in there."""
    from models import accounts, checkin, events
    from models.base import new_token, utcnow
    from tests.factories import make_customer
    with live_app.app_context():
        manager, staff, marketer = (accounts.find_user_by_username(u)
                                    for u in ("manager", "staff", "marketer"))
        start = utcnow() + timedelta(hours=1)
        event = events.create_event(title=f"{name}的讲座", kind="lecture", venue="幸福酒店",
                                    starts_at=start, ends_at=start + timedelta(hours=3),
                                    capacity=100, actor=manager)
        events.change_event_status(event, "open", actor=manager)
        customer = make_customer(marketer, name=name, phone=f"1370024{next(_numbers):04d}")
        invitation = events.invite(event, customer, actor=marketer)
        checkin.check_in(event, invitation, actor=staff, token=new_token())
        db.session.commit()
        ids = event.id, customer.id
        db.session.remove()
    return ids


def _in_view(page, locator):
    box = locator.bounding_box()
    size = page.viewport_size
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= size["height"] \
        and box["x"] + box["width"] <= size["width"]


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=["1024x768", "800x1280"])
def test_a_package_with_a_deposit_in_five_taps_from_the_customer_page(
        page, live_server, live_app, screenshot, viewport):
    from models import orders as o
    name = f"陈{'一二'[VIEWPORTS.index(viewport)]}"
    event_id, customer_id = _checked_in_customer(live_app, name)
    page.set_viewport_size(viewport)
    sign_in(page, live_server, "marketer")
    page.goto(f"{live_server}/customers/{customer_id}")
    taps = Taps()

    taps.click(page.get_by_test_id("new-order"))
    page.wait_for_url(re.compile(rf"/orders/new/{customer_id}\?event_id={event_id}$"))
    assert page.get_by_label("会议", exact=True).input_value() == str(event_id)
    submit = page.get_by_role("button", name="确认开单")
    assert _in_view(page, submit)  # no scrolling to find it
    assert page.get_by_test_id("deal-total").inner_text() == "¥0.00"
    taps.click(page.get_by_test_id("add-大单"))
    assert page.get_by_test_id("deal-total").inner_text() == "¥1,980.00"
    deposit = page.get_by_label("现收金额（元）")
    taps.click(deposit)
    taps.fill(deposit, "500")
    assert page.get_by_test_id("deal-due").inner_text() == "¥1,480.00"
    assert _in_view(page, submit) and _in_view(page, deposit)
    screenshot(f"deal-new-{viewport['width']}")
    taps.click(submit)
    page.wait_for_url(re.compile(r"/orders/\d+$"))

    assert taps.count <= 5
    assert page.get_by_test_id("balance-due").inner_text() == "¥1,480.00"
    with live_app.app_context():
        order = db.session.scalar(select(o.Order).where(o.Order.customer_id == customer_id))
        assert (order.event_id, order.channel, order.total, order.paid) == \
            (event_id, "event", 198000, 50000)
        assert [(p.kind, p.amount) for p in o.payments_of(order)] == [("deposit", 50000)]
        db.session.remove()


def test_the_figures_follow_packages_lines_and_the_deposit(page, live_server, live_app):
    _event_id, customer_id = _checked_in_customer(live_app, "陈三")
    sign_in(page, live_server, "marketer")
    page.goto(f"{live_server}/orders/new/{customer_id}")
    tile = page.get_by_test_id("package-大单")
    tile.get_by_role("button", name="多一份").click()
    tile.get_by_role("button", name="多一份").click()
    assert page.get_by_test_id("deal-total").inner_text() == "¥3,960.00"
    tile.get_by_role("button", name="少一份").click()
    row = page.locator("#lines tr.line").first
    row.get_by_label("商品（编码）").fill("lz-001")
    row.get_by_label("数量").fill("2")
    row.get_by_label("优惠（元）").fill("10")
    with live_app.app_context():
        from models import inventory as inv
        price = inv.product_by_code("LZ-001").sale_price
        db.session.remove()
    total = 198000 + 2 * price - 1000
    assert page.get_by_test_id("deal-total").inner_text() == f"¥{total // 100:,}.{total % 100:02d}"
    page.get_by_label("现收金额（元）").fill(str(total // 100))
    due = total % 100
    assert page.get_by_test_id("deal-due").inner_text() == f"¥0.{due:02d}"


#: In-browser: the short labels (up to four characters, no space) and the amounts in cells,
#: terms, labels and buttons that take more than one line: a text's height against the line
#: height of its element.
WRAPPED = """() => {
  const wrapped = [];
  const short = text => (text.length <= 4 && !/\\s/.test(text)) || /^-?¥[\\d,.]+$/.test(text);
  const selector = 'main td, main th, main dt, main dd, main .btn, main label, main summary';
  for (const el of document.querySelectorAll(selector)) {
    if (!el.checkVisibility()) continue;
    const style = getComputedStyle(el);
    const line = parseFloat(style.lineHeight) || parseFloat(style.fontSize) * 1.5;
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const text = node.textContent.trim();
      if (!text || !short(text)) continue;
      const range = document.createRange();
      range.selectNodeContents(node);
      const height = range.getBoundingClientRect().height;
      if (height > line * 1.5) wrapped.push(`${text} (${Math.round(height)} px)`);
    }
  }
  return wrapped;
}"""


def test_finance_order_page_at_1024(page, live_server, live_app, screenshot):
    from models import accounts, orders as o
    from models.base import new_token
    event_id, customer_id = _checked_in_customer(live_app, "陈四")
    with live_app.app_context():
        from models import customers, events, inventory as inv, order_taking
        marketer = accounts.find_user_by_username("marketer")
        finance = accounts.find_user_by_username("finance")
        package = next(p for p in o.packages() if p.name == "大单")
        order, _deferred = order_taking.take_order(
            db.session.get(customers.Customer, customer_id), actor=marketer, token=new_token(),
            lines=o.package_lines(package, 1), warehouse=inv.warehouses()[0], channel="event",
            event=db.session.get(events.Event, event_id), deposit=50000,
            deposit_method="wechat", payment_token=new_token())
        mistake = o.receive_payment(order, amount=10000, method="cash", actor=finance,
                                    token=new_token())
        o.reverse_payment(mistake, reason="录错", actor=finance)
        db.session.commit()
        order_id, due = order.id, order.balance_due
        db.session.remove()
    assert due == 148000
    page.set_viewport_size({"width": 1024, "height": 768})
    sign_in(page, live_server, "finance")
    page.goto(f"{live_server}/orders/{order_id}")
    screenshot("deal-finance-order-1024")
    payments = page.get_by_test_id("payments")
    assert payments.get_by_text("冲销", exact=True).count() >= 1
    assert page.evaluate(WRAPPED) == []
    form = page.get_by_test_id("payment-form")
    assert form.get_by_label("金额（元）").input_value() == "1480.00"
    refund = page.get_by_test_id("refund-form")
    assert not refund.is_visible()  # folded away, below the payment
    page.set_viewport_size({"width": 800, "height": 1280})
    assert page.evaluate(WRAPPED) == []
    screenshot("deal-finance-order-800")
    page.set_viewport_size({"width": 1024, "height": 768})
    form.get_by_role("button", name="确认收款").click()  # the amount due, as it was filled
    page.wait_for_url(f"{live_server}/orders/{order_id}")
    assert page.get_by_test_id("payment-state").inner_text() == "已付清"


def test_a_clerk_hands_everything_over_in_two_taps(page, live_server, live_app, screenshot):
    from models import accounts, customers, inventory as inv, order_taking, orders as o
    from models.base import new_token
    from tests.factories import make_customer
    with live_app.app_context():
        marketer = accounts.find_user_by_username("marketer")
        customer = make_customer(marketer, name="陈五", phone=f"1370024{next(_numbers):04d}")
        packages = {p.name: p for p in o.packages()}
        for name, paid in (("大单", True), ("小单", False)):
            lines = o.package_lines(packages[name], 1, held=True)
            total = sum(line["quantity"] * line["unit_price"] - line["discount"]
                        for line in lines)
            order_taking.take_order(
                customer, actor=marketer, token=new_token(), lines=lines,
                warehouse=inv.warehouses()[0], channel="store",
                deposit=total if paid else total // 2, deposit_method="cash",
                payment_token=new_token())
        db.session.commit()
        customer_id = customer.id
        db.session.remove()
    page.set_viewport_size({"width": 1024, "height": 768})
    sign_in(page, live_server, "warehouse")
    page.goto(f"{live_server}/custody/customers/{customer_id}")
    rows = page.get_by_test_id("holding")
    pickable = [int(rows.nth(i).get_by_test_id("pickable").inner_text())
                for i in range(rows.count())]
    held = [int(rows.nth(i).locator("td").nth(2).inner_text().split()[0])
            for i in range(rows.count())]
    assert len(rows.all()) >= 2 and 0 < sum(pickable) < sum(held)  # half of 小单 is unpaid
    first = rows.nth(0)
    first.get_by_test_id("fill-line").click()  # one line only
    assert first.locator("input[type=number]").input_value() == str(pickable[0])
    assert rows.nth(1).locator("input[type=number]").input_value() == ""
    first.locator("input[type=number]").fill("")
    screenshot("deal-custody-1024")
    page.set_viewport_size({"width": 800, "height": 1280})
    screenshot("deal-custody-800")
    page.set_viewport_size({"width": 1024, "height": 768})

    # print() only tells the page it was called (conftest.NO_PRINT_DIALOG)
    taps = Taps()
    taps.click(page.get_by_test_id("fill-all"))
    assert [rows.nth(i).locator("input[type=number]").input_value()
            for i in range(rows.count())] == [str(n) if n else "" for n in pickable]
    taps.click(page.get_by_test_id("hand-over"))
    page.wait_for_url(re.compile(r"/custody/pickups/\d+\?print=1$"))
    assert taps.count <= 2
    # the same tap prints: the slip loads in a frame and its print dialog is asked for
    frame = page.get_by_test_id("slip-frame")
    assert "/slip.pdf" in frame.get_attribute("src")
    page.wait_for_function("document.body.dataset.slipPrint !== undefined", timeout=30_000)
    assert page.evaluate("document.body.dataset.slipPrint") == "asked"
    page.wait_for_function("document.body.dataset.printed === '1'", timeout=10_000)
    slip = page.get_by_test_id("print-slip")
    assert slip.is_visible() and _in_view(page, slip)  # the slip is offered at once
    assert page.request.get(live_server + slip.get_attribute("href")).body()[:4] == b"%PDF"
    screenshot("deal-custody-pickup-1024")
    with live_app.app_context():
        from models.custody import balances_by_product, holdings
        person = db.session.get(customers.Customer, customer_id)
        assert all(row["pickable"] == 0 for row in holdings(person))
        assert sum(n for _product, n in balances_by_product(person)) == \
            sum(held) - sum(pickable)
        db.session.remove()
