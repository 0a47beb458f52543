"""After-sales on a 1024×768 tablet: a marketer opens a customer, registers a repair (登记售后),
then starts a deal for the same customer — the order form warns that the customer has an
unresolved after-sales problem and links to the ticket."""
import re

from sqlalchemy import select

from extensions import db
from tests.browser.test_navigation import sign_in


def _customer(live_app):
    """A demo customer of 刘芳 (marketer) without a ticket yet: (id, name)."""
    from models import accounts, aftersales, customers
    with live_app.app_context():
        marketer = accounts.find_user_by_username("marketer")
        ticketed = select(aftersales.Ticket.customer_id)
        customer = db.session.scalars(select(customers.Customer).where(
            customers.Customer.owner_id == marketer.id,
            customers.Customer.id.not_in(ticketed)).order_by(customers.Customer.id)).first()
        found = (customer.id, customer.name)
        db.session.remove()
    return found


def test_register_a_ticket_then_the_order_form_warns(page, live_server, live_app, screenshot):
    customer_id, name = _customer(live_app)
    page.set_viewport_size({"width": 1024, "height": 768})
    sign_in(page, live_server, "marketer")
    page.goto(f"{live_server}/customers/{customer_id}")
    assert page.get_by_test_id("aftersales-warning").count() == 0
    page.get_by_role("link", name="登记售后").click()
    page.wait_for_url(re.compile(rf"/aftersales/new/{customer_id}$"))
    page.get_by_label("维修").check()
    page.get_by_label("问题描述").fill("按摩椅一开就跳闸，顾客要求上门修")
    assert page.get_by_label("负责人").locator("option:checked").inner_text().startswith("刘芳")
    screenshot("aftersales-new")
    page.get_by_role("button", name="登记", exact=True).click()
    page.wait_for_url(re.compile(r"/aftersales/\d+$"))
    ticket_url = page.url
    number = page.locator("h1").inner_text().split()[-1]
    assert number.startswith("SH")
    assert "按摩椅一开就跳闸" in page.get_by_test_id("ticket-description").inner_text()
    screenshot("aftersales-ticket")

    # Back to the customer: the warning is there; then start a deal.
    page.get_by_test_id("ticket-facts").get_by_role("link", name=name).click()
    page.wait_for_url(f"{live_server}/customers/{customer_id}")
    warning = page.get_by_test_id("aftersales-warning")
    assert "该顾客有未解决的售后问题" in warning.inner_text() and number in warning.inner_text()
    page.get_by_test_id("new-order").click()
    page.wait_for_url(re.compile(rf"/orders/new/{customer_id}"))
    warning = page.get_by_test_id("aftersales-warning")
    assert warning.is_visible()
    assert "该顾客有未解决的售后问题" in warning.inner_text() and number in warning.inner_text()
    box = warning.bounding_box()
    assert box["y"] < 768 and box["width"] <= 1024  # in sight without scrolling, on the tablet
    screenshot("aftersales-order-warning")
    warning.get_by_role("link", name=number).click()
    page.wait_for_url(ticket_url)

    # Resolved: the order form no longer warns.
    page.get_by_label("处理结果").fill("师傅上门换了保险丝，顾客满意")
    page.get_by_role("button", name="结案").click()
    page.wait_for_url(ticket_url)
    assert "已结案" in page.get_by_test_id("ticket-status").inner_text()
    page.goto(f"{live_server}/orders/new/{customer_id}")
    assert page.get_by_test_id("aftersales-warning").count() == 0
