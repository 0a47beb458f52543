"""The cashier's day in sessions (#25 §3), at 1024×768: finance closes a cashier's morning
(日结 #1); a deposit after it is taken and waits in #2; a manager reopens #1 with a reason by
taps; finance's #2 covers both entries. The screenshots and the #2 PDF are looked at by people."""
import re

from extensions import db
from tests.browser.conftest import ARTIFACTS
from tests.browser.test_navigation import sign_in


def _cashier_and_order(live_app):
    """A cashier of their own (other tests' takings stay off this card) and an order owing."""
    from tests.factories import make_customer, make_order, make_user
    with live_app.app_context():
        cashier = make_user(["marketer"], username="close_cashier", display_name="陈收银")
        order = make_order(make_customer(cashier, name="周阿姨"))  # ¥396 owing
        db.session.commit()
        ids = cashier.id, order.id
        db.session.remove()
    return ids


def _take(live_app, cashier_id, order_id, amount):
    from models import orders as o
    from models.accounts import User
    from models.base import new_token
    with live_app.app_context():
        o.receive_payment(db.session.get(o.Order, order_id), amount=amount, method="cash",
                          actor=db.session.get(User, cashier_id), token=new_token())
        db.session.commit()
        db.session.remove()


def _close(page, amount):
    card = page.get_by_test_id("cashier-close_cashier")
    card.get_by_label("实盘 现金").fill(amount)
    page.once("dialog", lambda dialog: dialog.accept())
    card.get_by_role("button", name=re.compile(r"^日结 #\d+$")).click()
    page.get_by_test_id("cashier-close_cashier").get_by_text("已全部日结").wait_for()
    return page.get_by_test_id("cashier-close_cashier")


def test_a_deposit_after_the_close_goes_to_session_2_and_a_manager_reopens_session_1(
        page, browser, live_server, live_app):
    cashier_id, order_id = _cashier_and_order(live_app)
    _take(live_app, cashier_id, order_id, 10000)
    sign_in(page, live_server, "finance")
    page.goto(f"{live_server}/orders/close")
    card = _close(page, "100")
    assert "日结 #1" in card.get_by_test_id("session-1").inner_text()

    _take(live_app, cashier_id, order_id, 5000)  # after the close: taken, not refused
    page.reload()
    card = page.get_by_test_id("cashier-close_cashier")
    assert "待日结：#2" in card.inner_text()
    assert card.get_by_test_id("open-entries").locator("tbody tr").count() == 1
    card.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "close-sessions-open-2.png"), full_page=True)

    manager = browser.new_page(viewport={"width": 1024, "height": 768})
    sign_in(manager, live_server, "manager")
    manager.goto(f"{live_server}/orders/close")
    row = manager.get_by_test_id("cashier-close_cashier").get_by_test_id("session-1")
    row.locator("summary", has_text="重开").click()
    row.get_by_label("重开原因").fill("现金少点了一百")
    manager.screenshot(path=str(ARTIFACTS / "close-sessions-reopen-form.png"), full_page=True)
    manager.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="重开").click()
    manager.get_by_test_id("cashier-close_cashier").get_by_test_id("reopened-1").wait_for()
    assert "现金少点了一百" in manager.get_by_test_id("reopened-1").inner_text()
    manager.screenshot(path=str(ARTIFACTS / "close-sessions-reopened.png"), full_page=True)
    manager.close()

    page.reload()
    card = page.get_by_test_id("cashier-close_cashier")
    assert card.get_by_test_id("open-entries").locator("tbody tr").count() == 2
    card = _close(page, "150")
    second = card.get_by_test_id("session-2").inner_text()
    assert "¥150.00" in second and "2" in second
    assert "已重开" in card.get_by_test_id("session-1").inner_text()
    page.screenshot(path=str(ARTIFACTS / "close-sessions-closed-2.png"), full_page=True)
    for session in (1, 2):
        link = card.get_by_test_id(f"session-{session}").get_by_role("link", name="打印（PDF）")
        pdf = page.request.get(live_server + link.get_attribute("href"))
        assert pdf.ok
        (ARTIFACTS / f"close-session-{session}.pdf").write_bytes(pdf.body())
