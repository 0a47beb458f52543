"""A deal on a tablet: at an event, a marketer sells the 大单 package to a checked-in customer
with a deposit; later finance takes the balance; the customer's page shows the right due
amount and timeline; the day closes with the right totals."""
import re
from datetime import timedelta

from sqlalchemy import select

from extensions import db
from tests.browser.conftest import ARTIFACTS
from tests.browser.test_navigation import sign_in


def _checked_in_customer(live_app):
    from models import accounts, checkin, customers, events
    from models.base import new_token, utcnow
    with live_app.app_context():
        manager = accounts.find_user_by_username("manager")
        staff = accounts.find_user_by_username("staff")
        marketer = accounts.find_user_by_username("marketer")
        start = utcnow() + timedelta(hours=1)
        event = events.create_event(title="秋季养生讲座", kind="lecture", venue="幸福酒店",
                                    starts_at=start, ends_at=start + timedelta(hours=3),
                                    capacity=100, actor=manager)
        events.change_event_status(event, "open", actor=manager)
        customer = db.session.scalars(select(customers.Customer).where(
            customers.Customer.owner_id == marketer.id).order_by(customers.Customer.id.desc())
            ).first()
        invitation = events.invite(event, customer, actor=marketer)
        checkin.check_in(event, invitation, actor=staff, token=new_token())
        db.session.commit()
        ids = (event.id, customer.id, customer.name)
        db.session.remove()
    return ids


def test_sell_a_package_with_a_deposit_then_finance_takes_the_balance_and_closes_the_day(
        page, browser, live_server, live_app, screenshot):
    event_id, customer_id, name = _checked_in_customer(live_app)
    page.set_viewport_size({"width": 1024, "height": 768})
    sign_in(page, live_server, "marketer")
    page.goto(f"{live_server}/customers/{customer_id}")
    page.get_by_role("link", name="开单").click()
    page.get_by_label("会议", exact=True).select_option(str(event_id))
    page.get_by_test_id("package-大单").click()  # one tap: one set
    assert page.locator("#order-form input[name^=package-]").first.input_value() == "1"
    page.get_by_label("现收金额（元）").fill("500")
    page.get_by_label("付款方式").select_option("wechat")
    page.get_by_label("交易流水号").fill("4200001111")
    screenshot("order-new")
    page.get_by_role("button", name="确认开单").click()
    page.wait_for_url(re.compile(r"/orders/\d+$"))
    assert page.get_by_test_id("balance-due").inner_text() == "¥1,480.00"
    assert "部分付款" in page.get_by_test_id("payment-state").inner_text()
    order_url = page.url
    screenshot("order-show")

    finance = browser.new_page(viewport={"width": 1024, "height": 768})
    sign_in(finance, live_server, "finance")
    finance.goto(order_url)
    form = finance.get_by_test_id("payment-form")
    form.get_by_label("金额（元）").fill("1480")
    form.get_by_label("付款方式").select_option("alipay")
    form.get_by_role("button", name="确认收款").click()
    finance.wait_for_url(order_url)
    assert finance.get_by_test_id("payment-state").inner_text() == "已付清"

    page.goto(f"{live_server}/customers/{customer_id}")
    assert page.get_by_test_id("customer-due").count() == 0  # nothing owed any more
    timeline = page.locator("body").inner_text()
    assert "定金 ¥500.00" in timeline and "补款 ¥1,480.00" in timeline
    screenshot("order-customer")

    finance.goto(f"{live_server}/orders/close")
    for username in ("marketer", "finance"):
        card = finance.get_by_test_id(f"cashier-{username}")
        # What this test took is there; other tests' takings on the same demo day too. The
        # cashier counts exactly what the ledger says.
        assert card.locator("input[name=declared-wechat]" if username == "marketer"
                            else "input[name=declared-alipay]").count() == 1
        inputs = card.locator("input[name^=declared-]")
        for i in range(inputs.count()):
            inputs.nth(i).fill(inputs.nth(i).get_attribute("placeholder"))
        finance.once("dialog", lambda dialog: dialog.accept())
        card.get_by_role("button", name=re.compile(r"^日结 #\d+$")).click()
        finance.get_by_test_id(f"cashier-{username}").get_by_text("已全部日结").wait_for()
    assert finance.get_by_test_id("cashier-marketer").get_by_test_id(
        "close-difference").inner_text() == "¥0.00"
    # The session closed what the ledger holds (this test's ¥1,480 among the day's takings):
    # counted as expected, nothing left to close.
    text = finance.get_by_test_id("cashier-finance").inner_text()
    assert "已全部日结" in text and "日结 #" in text and "\t¥0.00\t" in text
    finance.screenshot(path=str(ARTIFACTS / "order-daily-close.png"), full_page=True)
    finance.close()


def test_a_refund_beyond_the_overpayment_needs_the_managers_goodwill_tick(page, live_server,
                                                                          live_app):
    """Tapped as a manager does: a paid order whose goods were all kept has nothing overpaid,
    so ¥10 back is refused with the cap; ticked as a goodwill refund, it is paid back."""
    from models import accounts, customers, inventory, order_taking, orders
    from models.base import new_token
    with live_app.app_context():
        marketer = accounts.find_user_by_username("marketer")
        finance = accounts.find_user_by_username("finance")
        customer = db.session.scalars(select(customers.Customer).where(
            customers.Customer.owner_id == marketer.id).order_by(customers.Customer.id)).first()
        order = order_taking.create_order(
            customer, lines=[{"product": inventory.product_by_code("LZ-001"), "quantity": 1}],
            actor=marketer, token=new_token(), channel="store",
            warehouse=db.session.scalars(select(inventory.Warehouse)).first())
        orders.receive_payment(order, amount=order.total, method="cash", actor=finance,
                               token=new_token())
        db.session.commit()
        order_id, paid = order.id, order.paid
        db.session.remove()
    sign_in(page, live_server, "manager")
    page.goto(f"{live_server}/orders/{order_id}")
    refund = page.get_by_test_id("refund")
    refund.locator("summary").click()
    assert "最多可退 ¥0.00" in refund.get_by_test_id("refund-cap").inner_text()
    form = refund.get_by_test_id("refund-form")
    form.get_by_label("金额（元）").fill("10")
    form.get_by_label("原因").fill("老顾客补偿")
    form.get_by_role("button", name="退款（由我审批）").click()
    page.get_by_text("最多可退 ¥0.00。请先办理退货").first.wait_for()
    refund = page.get_by_test_id("refund")
    form = refund.get_by_test_id("refund-form")
    form.get_by_label("金额（元）").fill("10")
    form.get_by_label("原因").fill("老顾客补偿")
    form.get_by_label("特批退款：超过多付部分（经理）").check()
    form.get_by_role("button", name="退款（由我审批）").click()
    page.wait_for_url(f"{live_server}/orders/{order_id}")
    with live_app.app_context():
        assert db.session.get(orders.Order, order_id).paid == paid - 1000
        db.session.remove()
