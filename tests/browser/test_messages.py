"""Messages on a 1024×768 tablet, by tapping: an administrator writes a template with the field
buttons while the live preview follows (a real customer's name, the length in characters and
SMS parts; an unknown field is refused, nothing saved); a marketer sends a template to the
confirmed guests of an event from its invitation list (previewed: one refused for 勿发短信),
cancels one in the outbox, and sends one WeChat message from a customer's page."""
import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from extensions import db
from models import accounts, customers, events, messages
from models.base import utcnow
from tests.browser.test_navigation import sign_in


@pytest.fixture(scope="module")
def setting(live_app):
    """An open event with two confirmed guests of 刘芳 (marketer), one of them 勿发短信, and
    a reminder template: the ids and names."""
    with live_app.app_context():
        user = accounts.find_user_by_username
        manager, marketer = user("manager"), user("marketer")
        start = utcnow() + timedelta(days=1)
        event = events.create_event(title="消息讲座", kind="lecture", venue="幸福酒店",
                                    starts_at=start, ends_at=start + timedelta(hours=3),
                                    capacity=100, actor=manager)
        events.change_event_status(event, "open", actor=manager)
        guests = db.session.scalars(select(customers.Customer).where(
            customers.Customer.owner_id == marketer.id, customers.Customer.status == "active")
            .order_by(customers.Customer.id.desc()).limit(3)).all()
        for guest in guests[:2]:
            invitation = events.invite(event, guest, actor=marketer)
            events.change_invitation(invitation, "confirmed", actor=marketer)
        guests[1].do_not_sms = True
        template = messages.save_template(None, name="会前一天提醒", purpose="reminder",
                                          body="{称呼}您好，{会议名称}定于{时间}在{地点}举行。",
                                          actor=user("admin"))
        db.session.commit()
        found = {"event": event.id, "template": template.id,
                 "guests": [(g.id, g.name) for g in guests]}
        db.session.remove()
    return found


def test_an_admin_writes_a_template_while_the_preview_follows(page, live_server, screenshot):
    page.set_viewport_size({"width": 1024, "height": 768})
    sign_in(page, live_server, "admin")
    page.get_by_role("link", name="消息", exact=True).first.click()
    page.wait_for_url(f"{live_server}/messages/")
    page.get_by_test_id("templates-link").click()
    page.get_by_test_id("new-template").click()
    page.wait_for_url(f"{live_server}/messages/templates/new")
    page.get_by_label("名称").fill("生日祝福（平板）")
    page.get_by_label("用途").select_option(label="生日祝福")
    body = page.get_by_label("正文")
    page.get_by_role("button", name="称呼", exact=True).click()
    body.press_sequentially("，祝您生日快乐！")
    page.get_by_role("button", name="顾问", exact=True).click()
    preview = page.get_by_test_id("message-preview")
    expect(preview.get_by_test_id("preview-text")).to_contain_text(
        re.compile("，祝您生日快乐！.+"))  # the adviser's name (or its example) follows
    expect(preview).to_contain_text("1 条短信")
    assert "{称呼}" not in preview.get_by_test_id("preview-text").inner_text()
    assert body.input_value().startswith("{称呼}，祝您生日快乐！{顾问}")
    screenshot("messages-template-new")
    body.press_sequentially("保重身体" * 15)  # over 70 characters: two parts
    expect(preview).to_contain_text("2 条短信")
    body.press_sequentially("{生日}")
    expect(preview.get_by_test_id("preview-error")).to_contain_text("{生日}")
    page.get_by_test_id("template-save").click()
    expect(page.get_by_test_id("form-errors").or_(page.locator(".invalid-feedback"))
           .first).to_contain_text("{生日}")
    body.fill("{称呼}，祝您生日快乐！{顾问}")
    page.get_by_test_id("template-save").click()
    page.wait_for_url(f"{live_server}/messages/templates")
    expect(page.get_by_test_id("templates-table")).to_contain_text("生日祝福（平板）")
    screenshot("messages-templates")


def test_a_marketer_sends_to_the_confirmed_guests_and_cancels_one(page, live_server, setting,
                                                                  screenshot):
    page.set_viewport_size({"width": 1024, "height": 768})
    sign_in(page, live_server, "marketer")
    page.goto(f"{live_server}/events/{setting['event']}/invitations")
    page.get_by_test_id("send-to-guests").click()
    page.wait_for_url(re.compile(rf"/messages/events/{setting['event']}/send"))
    page.get_by_label("模板").select_option(str(setting["template"]))  # submits itself
    summary = page.get_by_test_id("bulk-summary")
    expect(summary).to_contain_text("将排队 1 条消息")
    (first_id, first_name), (_id, refused_name) = setting["guests"][:2]
    expect(page.get_by_test_id("bulk-refused")).to_contain_text(refused_name)
    expect(page.get_by_test_id("bulk-refused")).to_contain_text("勿发短信")
    expect(page.get_by_test_id("bulk-drafts")).to_contain_text("消息讲座定于")
    screenshot("messages-event-send")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("bulk-queue").click()
    page.wait_for_url(re.compile(rf"/messages/\?event_id={setting['event']}"))
    expect(page.locator(".alert-success")).to_contain_text("已排队 1 条消息")
    table = page.get_by_test_id("outbox-table")
    expect(table).to_contain_text(first_name)
    expect(table).to_contain_text("待发送")
    screenshot("messages-outbox")
    page.once("dialog", lambda dialog: dialog.accept())
    table.get_by_role("button", name="取消").first.click()
    expect(page.locator(".alert-success")).to_contain_text("已取消")
    expect(page.get_by_test_id("outbox-table")).to_contain_text("已取消")


def test_a_marketer_sends_one_wechat_message_from_a_customer_page(page, live_server, setting,
                                                                 screenshot):
    customer_id, name = setting["guests"][2]
    page.set_viewport_size({"width": 1024, "height": 768})
    sign_in(page, live_server, "marketer")
    page.goto(f"{live_server}/customers/{customer_id}")
    page.get_by_test_id("send-message").click()
    page.wait_for_url(re.compile(rf"/messages/customers/{customer_id}/new"))
    page.get_by_label("正文").press_sequentially("{称呼}您好，新到的灵芝孢子粉给您留了一盒。")
    preview = page.get_by_test_id("preview-text")
    expect(preview).to_contain_text("您好，新到的灵芝孢子粉给您留了一盒。")
    assert "{称呼}" not in preview.inner_text()
    page.get_by_label("微信").check()
    expect(page.get_by_test_id("preview-length")).not_to_contain_text("短信")  # WeChat: free
    screenshot("messages-customer")
    page.get_by_test_id("message-send").click()
    page.wait_for_url(f"{live_server}/customers/{customer_id}")
    expect(page.locator(".alert-success")).to_contain_text(name)
    expect(page.locator("body")).to_contain_text("新到的灵芝孢子粉给您留了一盒")
