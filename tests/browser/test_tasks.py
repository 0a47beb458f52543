"""The marketer's morning: "Today" lists the callback the nightly job wrote; one tap shows the
number to call, two more mark it done with a note, and the note is on the customer's timeline."""
from datetime import timedelta

from sqlalchemy import select

import jobs
from extensions import db
from formatting import local_day
from tests.browser.test_navigation import sign_in


def test_today_call_and_done_in_three_taps(page, live_server, live_app, screenshot):
    from models import accounts, customers, inventory, order_taking
    from models.base import begin_write, new_token, utcnow
    with live_app.app_context():
        begin_write()
        marketer = accounts.find_user_by_username("marketer2")
        guest = db.session.scalars(select(customers.Customer).where(
            customers.Customer.owner_id == marketer.id, customers.Customer.status == "active")
            .order_by(customers.Customer.id)).first()
        main = db.session.scalar(select(inventory.Warehouse).where(
            inventory.Warehouse.code == "MAIN"))
        product = db.session.scalars(inventory.find_products(flag="for_sale")).first()
        order_taking.create_order(guest, lines=[{"product": product, "quantity": 1}],
                                  actor=marketer, token=new_token(), warehouse=main,
                                  channel="store", now=utcnow() - timedelta(days=3))
        db.session.commit()
        customer_id, name = guest.id, guest.name
        today = local_day(utcnow())
        db.session.remove()
    assert jobs.run_job(live_app, "callbacks", today) >= 1
    sign_in(page, live_server, "marketer2")
    page.get_by_role("link", name="今日任务").first.click()
    section = page.get_by_test_id("due-today")
    card = section.get_by_test_id("task").filter(has_text=name).filter(has_text="第3天：使用指导")
    card.wait_for()
    screenshot("tasks-today")
    # Tap 1: show the number (recorded in the audit log) and call it.
    card.get_by_test_id("call").click()
    call = card.locator("a[href^='tel:']").first
    call.wait_for()
    assert call.get_attribute("href").startswith("tel:1")
    # Taps 2 and 3: open "done", tap a ready-made note; the card turns done in place.
    card_id = card.get_attribute("id")
    card.get_by_test_id("done-open").click()
    card.get_by_role("button", name="已接通，情况良好").click()
    done = page.locator(f"#{card_id}").get_by_test_id("task-done")
    done.wait_for()
    assert "已完成" in done.inner_text()
    screenshot("tasks-done")
    page.goto(f"{live_server}/customers/{customer_id}")
    assert "【购买后回访】已接通，情况良好" in page.locator("main").inner_text()
