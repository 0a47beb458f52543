"""Custody on a tablet: a big order with a deposit left in custody; collecting more than the
paid share is refused; finance takes the balance; the customer collects two boxes with a
printed slip; the statement and check-ledgers agree."""
import re

from sqlalchemy import select

from extensions import db
from tests.browser.conftest import ARTIFACTS
from tests.browser.test_navigation import sign_in


def test_leave_in_custody_then_collect_as_paid(page, browser, live_server, live_app,
                                              screenshot):
    from models import accounts, customers
    with live_app.app_context():
        marketer = accounts.find_user_by_username("marketer")
        guest = db.session.scalars(select(customers.Customer).where(
            customers.Customer.owner_id == marketer.id).order_by(customers.Customer.id)).first()
        customer_id, name = guest.id, guest.name
        db.session.remove()
    page.set_viewport_size({"width": 1024, "height": 768})
    sign_in(page, live_server, "marketer")
    page.goto(f"{live_server}/orders/new/{customer_id}")
    page.get_by_label("成交渠道").select_option("store")
    tile = page.get_by_test_id("package-大单")
    tile.click()
    tile.get_by_label("寄存").check()
    page.get_by_label("现收金额（元）").fill("990")  # half of ¥1,980
    page.get_by_role("button", name="确认开单").click()
    page.wait_for_url(re.compile(r"/orders/\d+$"))
    order_url = page.url

    clerk = browser.new_page(viewport={"width": 1024, "height": 768})
    sign_in(clerk, live_server, "warehouse")
    clerk.goto(f"{live_server}/custody/")
    clerk.get_by_test_id("custody-search").fill(name)
    clerk.get_by_test_id("holder").filter(has_text=name).first.click()
    row = clerk.get_by_test_id("holding").filter(has_text="灵芝孢子粉")
    assert row.get_by_test_id("pickable").inner_text() == "3"  # half of 6 boxes
    row.locator("input[type=number]").fill("4")
    clerk.get_by_test_id("hand-over").click()
    assert "现在只能领 3" in clerk.get_by_test_id("pickup-refused").inner_text()
    clerk.screenshot(path=str(ARTIFACTS / "custody-refused.png"), full_page=True)

    finance = browser.new_page(viewport={"width": 1024, "height": 768})
    sign_in(finance, live_server, "finance")
    finance.goto(order_url)
    form = finance.get_by_test_id("payment-form")
    form.get_by_label("金额（元）").fill("990")
    form.get_by_role("button", name="确认收款").click()
    finance.wait_for_url(order_url)
    finance.close()

    clerk.goto(f"{live_server}/custody/customers/{customer_id}")
    row = clerk.get_by_test_id("holding").filter(has_text="灵芝孢子粉")
    assert row.get_by_test_id("pickable").inner_text() == "6"
    row.locator("input[type=number]").fill("2")
    clerk.get_by_label("代领人（非本人领取时）").fill("王小明")
    clerk.get_by_label("关系").fill("儿子")
    clerk.get_by_test_id("hand-over").click()
    clerk.wait_for_url(re.compile(r"/custody/pickups/\d+\?print=1$"))
    assert "灵芝孢子粉 4 盒" in clerk.get_by_test_id("remaining").inner_text()
    slip = clerk.request.get(live_server + clerk.get_by_test_id("print-slip")
                             .get_attribute("href"))
    assert slip.headers["content-type"] == "application/pdf"
    statement = clerk.request.get(f"{live_server}/custody/customers/{customer_id}/statement.pdf")
    assert statement.body()[:4] == b"%PDF"
    clerk.screenshot(path=str(ARTIFACTS / "custody-pickup.png"), full_page=True)
    clerk.close()
    with live_app.app_context():
        from models.custody import balances_by_product
        from models.ledgers import check_ledgers
        held = {p.sku: n for p, n in balances_by_product(db.session.get(
            customers.Customer, customer_id))}
        assert held["LZ-001"] == 4
        assert all(problems == [] for problems in check_ledgers().values())
        db.session.remove()
    screenshot("custody-order")
