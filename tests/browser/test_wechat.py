"""WeChat the way marketers send it (#28 §4): on a phone-sized screen (800×1280) "Today" shows
each queued WeChat message for the marketer's customers; one tap on 复制 puts its text on the
clipboard, one on 已发送 marks it sent on the server. Another marketer's message is not shown."""
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from extensions import db
from tests.browser.conftest import ARTIFACTS
from tests.browser.test_navigation import sign_in

PHONE = {"width": 800, "height": 1280}


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": PHONE,
            "permissions": ["clipboard-read", "clipboard-write"]}


@pytest.fixture
def wechat_messages(live_app):
    """A WeChat message for a customer of `marketer` and one for a customer of `marketer2`."""
    from models import accounts, customers, messages
    from models.base import begin_write, new_token
    with live_app.app_context():
        begin_write()
        made = {}
        for username, text in (("marketer", "{称呼}您好，明天上午九点健康讲座，我在门口等您。"),
                               ("marketer2", "{称呼}您好，这是别人的消息。")):
            owner = accounts.find_user_by_username(username)
            customer = db.session.scalars(select(customers.Customer).where(
                customers.Customer.owner_id == owner.id, customers.Customer.status == "active")
                .order_by(customers.Customer.id)).first()
            message = messages.queue_customer_message(customer, text=text, channel="wechat",
                                                      actor=owner, token=new_token())
            made[username] = (message.id, message.text)
        db.session.commit()
        db.session.remove()
    return made


def test_copy_then_sent_marks_the_message_sent(page, live_server, live_app, wechat_messages):
    from models import messages
    mine, text = wechat_messages["marketer"]
    other, _other_text = wechat_messages["marketer2"]
    sign_in(page, live_server, "marketer")
    page.goto(f"{live_server}/tasks/")
    card = page.locator(f"#wechat-{mine}")
    card.wait_for()
    assert page.locator(f"#wechat-{other}").count() == 0  # marketer2's is not on this list
    assert card.get_by_test_id("wechat-text").inner_text() == text
    copy = card.get_by_role("button", name="复制")
    box = copy.bounding_box()
    assert box["height"] >= 44 and box["width"] >= 44
    copy.click()
    card.get_by_test_id("wechat-copied").filter(has_text="已复制").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == text
    expect(card.get_by_role("button", name="已发送")).to_have_class(re.compile("btn-success"))
    page.wait_for_timeout(300)  # the button's colour transition, for the screenshot
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "wechat-copied.png"), full_page=True)
    card.get_by_role("button", name="已发送").click()
    done = page.locator(f"#wechat-{mine}").get_by_test_id("wechat-done")
    done.wait_for()
    assert "已发送" in done.inner_text()
    page.screenshot(path=str(ARTIFACTS / "wechat-sent.png"), full_page=True)
    with live_app.app_context():
        row = db.session.get(messages.Message, mine)
        assert (row.status, row.sent_at is not None) == ("sent", True)
        assert db.session.get(messages.Message, other).status == "queued"
        db.session.remove()
    # Sent messages leave the list.
    page.goto(f"{live_server}/tasks/")
    page.get_by_test_id("summary").wait_for()
    assert page.locator(f"#wechat-{mine}").count() == 0


def test_without_the_clipboard_api_the_text_is_still_copied(browser, live_server, live_app,
                                                            wechat_messages):
    """Over plain HTTP on an intranet navigator.clipboard does not exist: the fallback copies
    through a hidden textarea (or, refused, selects the text for a long-press copy)."""
    from models import messages
    mine, text = wechat_messages["marketer"]
    context = browser.new_context(viewport=PHONE, locale="zh-CN")
    context.add_init_script("Object.defineProperty(navigator, 'clipboard', "
                            "{value: undefined, configurable: true});")
    page = context.new_page()
    copied = []
    page.expose_function("reportCopy", lambda text: copied.append(text))
    page.add_init_script("document.addEventListener('copy', () => "
                         "window.reportCopy(document.getSelection().toString()));")
    sign_in(page, live_server, "marketer")
    page.goto(f"{live_server}/tasks/")
    card = page.locator(f"#wechat-{mine}")
    card.get_by_role("button", name="复制").click()
    expect(card).to_have_attribute("data-copied", re.compile("[01]"))
    if card.get_attribute("data-copied") == "1":
        card.get_by_test_id("wechat-copied").filter(has_text="已复制").wait_for()
        assert copied == [text]  # what execCommand("copy") put on the clipboard
    else:
        assert page.evaluate("document.getSelection().toString()").strip() == text
    card.get_by_role("button", name="已发送").click()
    page.locator(f"#wechat-{mine}").get_by_test_id("wechat-done").wait_for()
    with live_app.app_context():
        assert db.session.get(messages.Message, mine).status == "sent"
        db.session.remove()
    context.close()
