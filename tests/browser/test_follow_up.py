"""A callback nobody answered (#27 §4): on "Today" the marketer opens the card, taps 未接通; the
card says so in place, and tomorrow's attempt is on the list (coming), counted as the second."""
from datetime import timedelta

from sqlalchemy import select

from extensions import db
from formatting import local_day
from tests.browser.test_navigation import sign_in


def test_no_answer_moves_the_call_to_tomorrow_with_its_attempt(page, live_server, live_app,
                                                             screenshot):
    from models import accounts, customers, tasks
    from models.base import begin_write, utcnow
    with live_app.app_context():
        begin_write()
        marketer = accounts.find_user_by_username("marketer2")
        guest = db.session.scalars(select(customers.Customer).where(
            customers.Customer.owner_id == marketer.id, customers.Customer.status == "active",
            customers.Customer.do_not_call.is_(False))
            .order_by(customers.Customer.id.desc())).first()
        today = local_day(utcnow())
        tasks.write_tasks([tasks.task_row(
            "callback", (guest.id, marketer.id, marketer.department_id), today, "browser:1",
            "第7天：效果回访")])
        db.session.commit()
        name = guest.name
        db.session.remove()
    sign_in(page, live_server, "marketer2")
    page.get_by_role("link", name="今日任务").first.click()
    card = page.get_by_test_id("due-today").get_by_test_id("task").filter(
        has_text=name).filter(has_text="第7天：效果回访")
    card.wait_for()
    card_id = card.get_attribute("id")
    card.get_by_test_id("done-open").click()
    card.get_by_test_id("outcome-no_answer").wait_for()
    screenshot("follow-up-outcomes")
    card.get_by_test_id("outcome-no_answer").click()
    outcome = page.locator(f"#{card_id}").get_by_test_id("task-outcome")
    outcome.wait_for()
    assert outcome.inner_text() == "未接通"
    # Back on the list: today's is gone, tomorrow's second attempt is coming.
    page.get_by_role("link", name="今日任务").first.click()
    coming = page.get_by_test_id("coming").get_by_test_id("task").filter(
        has_text=name).filter(has_text="第7天：效果回访")
    coming.wait_for()
    assert coming.get_by_test_id("attempt").inner_text() == "第 2 次"
    tomorrow = today + timedelta(days=1)
    assert f"{tomorrow.month}月{tomorrow.day}日" in coming.inner_text()
    assert "第 2 次（前 1 次未接通）" in coming.inner_text()
    assert page.get_by_test_id("due-today").get_by_test_id("task").filter(
        has_text=name).filter(has_text="第7天：效果回访").count() == 0
    coming.scroll_into_view_if_needed()
    screenshot("follow-up-no-answer-tomorrow")
