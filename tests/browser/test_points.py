"""Points on a tablet: a customer pays for an order and earns points, redeems them for a
product with a printed slip, a manager reverses it; balances, stock and check-ledgers agree."""
import re

from sqlalchemy import select

from extensions import db
from tests.browser.conftest import ARTIFACTS
from tests.browser.test_navigation import sign_in


def test_earn_redeem_and_reverse(page, browser, live_server, live_app, screenshot):
    from models import accounts, customers, inventory, points
    with live_app.app_context():
        marketer = accounts.find_user_by_username("marketer2")
        guest = db.session.scalars(select(customers.Customer).where(
            customers.Customer.owner_id == marketer.id).order_by(customers.Customer.id.desc())
        ).first()
        customer_id, name = guest.id, guest.name
        before = points.balance_of(customer_id)
        cup = inventory.product_by_code("GF-201")
        main = db.session.scalar(select(inventory.Warehouse).where(
            inventory.Warehouse.code == "MAIN"))
        cups_before = inventory.quantity_in(inventory.location_of(main), cup)
        db.session.remove()
    page.set_viewport_size({"width": 1024, "height": 768})
    sign_in(page, live_server, "marketer2")
    page.goto(f"{live_server}/orders/new/{customer_id}")
    page.get_by_label("成交渠道").select_option("store")
    page.get_by_test_id("package-小单").click()
    page.get_by_test_id("package-小单").click()  # two sets
    page.get_by_label("现收金额（元）").fill("996")  # paid in full: 996 points
    page.get_by_role("button", name="确认开单").click()
    page.wait_for_url(re.compile(r"/orders/\d+$"))

    clerk = browser.new_page(viewport={"width": 1024, "height": 768})
    sign_in(clerk, live_server, "warehouse")
    clerk.goto(f"{live_server}/points/")
    clerk.get_by_test_id("points-search").fill(name)
    clerk.get_by_test_id("points-customer").filter(has_text=name).first.click()
    assert clerk.get_by_test_id("points-balance").inner_text() == str(before + 996)
    assert "到期" in clerk.get_by_test_id("points-expiring").first.inner_text()
    clerk.get_by_test_id("redeemable").filter(has_text="养生保温杯").locator("input").fill("1")
    clerk.screenshot(path=str(ARTIFACTS / "points-redeem.png"), full_page=True)
    clerk.get_by_test_id("redeem").click()
    clerk.wait_for_url(re.compile(r"/points/redemptions/\d+$"))
    assert clerk.get_by_test_id("points-left").inner_text() == str(before + 996 - 800)
    slip = clerk.request.get(live_server + clerk.get_by_test_id("print-slip")
                             .get_attribute("href"))
    assert slip.headers["content-type"] == "application/pdf"
    redemption_url = clerk.url
    clerk.close()

    manager = browser.new_page(viewport={"width": 1024, "height": 768})
    sign_in(manager, live_server, "manager")
    manager.goto(redemption_url)
    manager.get_by_test_id("reverse-redemption").locator("input[name=reason]").fill("拿错了")
    manager.once("dialog", lambda dialog: dialog.accept())
    manager.get_by_test_id("reverse-redemption").get_by_role("button").click()
    manager.get_by_text("兑换已撤销").wait_for()
    assert manager.get_by_test_id("points-left").inner_text() == str(before + 996)
    manager.close()
    with live_app.app_context():
        from models.ledgers import check_ledgers
        assert points.balance_of(customer_id) == before + 996
        cup = inventory.product_by_code("GF-201")
        main = db.session.scalar(select(inventory.Warehouse).where(
            inventory.Warehouse.code == "MAIN"))
        assert inventory.quantity_in(inventory.location_of(main), cup) == cups_before
        assert all(problems == [] for problems in check_ledgers().values())
        db.session.remove()
    screenshot("points-order")
