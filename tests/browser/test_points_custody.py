"""Points redeemed into custody on a tablet: the clerk chooses "left with us", the goods show at
the custody counter under the redemption slip's number and are handed over there; the manager's
performance report draws each marketer's sales against the department average."""
import re
from datetime import timedelta

from sqlalchemy import select

from extensions import db
from tests.browser.conftest import ARTIFACTS
from tests.browser.test_navigation import sign_in
from tests.factories import company_today


def test_redeem_into_custody_then_collect(page, browser, live_server, live_app, screenshot):
    from models import accounts, custody, customers, inventory, points
    from models.base import new_token
    with live_app.app_context():
        marketer = accounts.find_user_by_username("marketer")
        guest = db.session.scalars(select(customers.Customer).where(
            customers.Customer.owner_id == marketer.id).order_by(customers.Customer.id)).first()
        points.adjust(guest, 2000, reason="老顾客回馈", actor=accounts.find_user_by_username(
            "manager"), token=new_token())
        db.session.commit()
        customer_id, name, before = guest.id, guest.name, points.balance_of(guest.id)
        cup = inventory.product_by_code("GF-201")
        main = db.session.scalar(select(inventory.Warehouse).where(
            inventory.Warehouse.code == "MAIN"))
        free_before = inventory.quantity_in(inventory.location_of(main), cup)
        db.session.remove()
    clerk = page
    sign_in(clerk, live_server, "warehouse")
    clerk.goto(f"{live_server}/points/customers/{customer_id}")
    clerk.get_by_test_id("redeemable").filter(has_text="养生保温杯").locator("input").fill("2")
    clerk.get_by_label("寄存在公司").check()
    clerk.screenshot(path=str(ARTIFACTS / "points-redeem-custody.png"), full_page=True)
    clerk.get_by_test_id("redeem").click()
    clerk.wait_for_url(re.compile(r"/points/redemptions/\d+$"))
    clerk.get_by_test_id("redeemed-into-custody").wait_for()
    number = clerk.locator("h1").inner_text().split()[1]
    clerk.goto(f"{live_server}/custody/customers/{customer_id}")
    row = clerk.get_by_test_id("holding").filter(has_text=number)
    assert "养生保温杯" in row.inner_text() and row.get_by_test_id("pickable").inner_text() == "2"
    screenshot("custody-redeemed-goods")
    row.locator("input").fill("2")
    clerk.get_by_test_id("hand-over").click()
    clerk.wait_for_url(re.compile(r"/custody/pickups/\d+\?print=1$"))
    with live_app.app_context():
        from models.ledgers import check_ledgers
        assert points.balance_of(customer_id) == before - 1600
        cup = inventory.product_by_code("GF-201")
        main = db.session.scalar(select(inventory.Warehouse).where(
            inventory.Warehouse.code == "MAIN"))
        assert inventory.quantity_in(inventory.location_of(main), cup) == free_before - 2
        assert [r for r in custody.holdings(db.session.get(customers.Customer, customer_id))
                if r["redemption"] is not None] == []
        assert all(problems == [] for problems in check_ledgers().values())
        db.session.remove()
    clerk.goto(f"{live_server}/points/customers/{customer_id}")
    assert name in clerk.locator("h1").inner_text()


def test_the_performance_report_draws_sales_against_the_average(browser, live_server,
                                                                 screenshot):
    boss = browser.new_page(viewport={"width": 1024, "height": 768})
    sign_in(boss, live_server, "manager")
    today = company_today()
    boss.goto(f"{live_server}/reports/performance?start={today - timedelta(days=90)}"
              f"&end={today}")
    charts = boss.get_by_test_id("sales-charts")
    assert charts.locator("svg.sales-chart").count() >= 1
    assert "平均" in charts.inner_text()
    charts.scroll_into_view_if_needed()
    boss.screenshot(path=str(ARTIFACTS / "performance-sales-chart.png"), full_page=True)
    boss.close()
