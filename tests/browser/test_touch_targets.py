"""Touch targets on a 1024×768 tablet: every link, button, checkbox, radio, select and summary a
finger may tap on the main screens is at least 44 × 44 px (DESIGN §3, Front end).

A checkbox or radio counts with its label when tapping the label ticks it (a label around it,
or a label[for] beside it). Exceptions, on purpose (WCAG 2.5.8's "inline" exception):
- a link inside running text (a <p>, a form's help text, an alert's sentence) — it flows with
  the words around it, and making it taller would tear the sentence apart;
- the skip link and anything else hidden until focused, and whatever is not shown (a closed menu).
"""
import re
from datetime import timedelta

import pytest

from tests.browser.conftest import ARTIFACTS
from tests.browser.test_navigation import sign_in
from tests.factories import company_today

MINIMUM = 44

#: What a finger taps.
TARGETS = ("a[href], button, select, summary, input[type=checkbox], input[type=radio], "
           "input[type=submit], input[type=button], [role=button]")

#: In-browser: each visible target smaller than the minimum, with what identifies it.
MEASURE = """([selector, minimum]) => {
  const small = [];
  const inRunningText = el => el.tagName === 'A' && el.closest('p, .form-text, .alert > span, li.inline-text');
  const box = el => el.getBoundingClientRect();
  const union = (a, b) => {
    const left = Math.min(a.left, b.left), top = Math.min(a.top, b.top);
    return {width: Math.max(a.right, b.right) - left, height: Math.max(a.bottom, b.bottom) - top};
  };
  for (const el of document.querySelectorAll(selector)) {
    if (!el.checkVisibility({checkOpacity: true, checkVisibilityCSS: true})) continue;
    if (el.closest('.visually-hidden-focusable, .visually-hidden')) continue;
    if (inRunningText(el)) continue;
    const boxes = [box(el)];
    if (el.type === 'checkbox' || el.type === 'radio') {
      const around = el.closest('label');
      if (around) boxes.push(box(around));
      for (const label of el.labels || []) {
        if (label !== around) boxes.push(union(box(el), box(label)));
      }
    }
    if (boxes.some(b => b.width >= minimum - 0.5 && b.height >= minimum - 0.5)) continue;
    const b = boxes[0];
    small.push({
      what: el.tagName.toLowerCase() + (el.type && el.tagName !== 'BUTTON' ? `[${el.type}]` : '')
            + (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\\s+/).join('.') : ''),
      text: (el.innerText || el.value || el.getAttribute('aria-label') || el.name || '').trim().slice(0, 30),
      size: `${Math.round(b.width)}×${Math.round(b.height)}`,
    });
  }
  return small;
}"""


@pytest.fixture(scope="module")
def screens(live_app, live_server, browser):
    """The rows the main screens show — an event with a checked-in guest who bought (half paid,
    goods left in custody) and a callback due today — and the URLs of the screens by role. The
    order is taken and paid on the pages, as a marketer and a manager would."""
    from extensions import db
    from models import accounts, checkin, customers, events, messages
    from models.base import new_token, utcnow
    from models.tasks import write_tasks
    with live_app.app_context():
        user = accounts.find_user_by_username
        manager, marketer, staff = user("manager"), user("marketer"), user("staff")
        start = utcnow() + timedelta(hours=1)
        event = events.create_event(title="触控讲座", kind="lecture", venue="幸福酒店",
                                    starts_at=start, ends_at=start + timedelta(hours=3),
                                    capacity=100, actor=manager)
        events.change_event_status(event, "open", actor=manager)
        events.set_event_staff(event, [staff], actor=manager)
        customer = db.session.scalars(db.select(customers.Customer).where(
            customers.Customer.owner_id == marketer.id).order_by(customers.Customer.id)).first()
        invitation = events.invite(event, customer, actor=marketer)
        guest = db.session.scalars(db.select(customers.Customer).where(
            customers.Customer.owner_id == marketer.id,
            customers.Customer.id != customer.id).order_by(customers.Customer.id)).first()
        events.change_invitation(events.invite(event, guest, actor=marketer), "confirmed",
                                 actor=marketer)  # a guest a message may go to
        checkin.check_in(event, invitation, actor=staff, token=new_token())
        write_tasks([{"kind": "callback", "customer_id": customer.id,
                      "assignee_id": marketer.id, "department_id": marketer.department_id,
                      "due_date": company_today(), "title": "使用指导"}])
        # A WeChat message about the event to copy (and its card image) on "Today".
        messages.queue_message(customer, text="您好，触控讲座明天见。", channel="wechat",
                               event=event, subject_key=f"event:{event.id}", made_by=marketer)
        template = messages.save_template(None, name="触控提醒", purpose="reminder",
                                          body="{称呼}您好，{会议名称}定于{时间}举行。",
                                          actor=user("admin"))
        db.session.commit()
        ids = {"event": event.id, "customer": customer.id, "template": template.id}
        db.session.remove()
    page = browser.new_page(viewport={"width": 1024, "height": 768})
    sign_in(page, live_server, "marketer")
    page.goto(f"{live_server}/orders/new/{ids['customer']}")
    page.get_by_label("会议", exact=True).select_option(str(ids["event"]))
    package = page.get_by_test_id("package-小单")
    package.click()  # one set
    package.get_by_label("寄存").check()
    page.get_by_role("button", name="确认开单").click()
    page.wait_for_url(re.compile(r"/orders/\d+$"))
    ids["order"] = int(page.url.rsplit("/", 1)[1])
    # Half paid, taken by the manager: other tests close the marketer's and finance's day.
    page.wait_for_load_state("networkidle")
    page.close()
    page = browser.new_page(viewport={"width": 1024, "height": 768})
    sign_in(page, live_server, "manager")
    page.goto(f"{live_server}/orders/{ids['order']}")
    form = page.get_by_test_id("payment-form")
    form.get_by_label("金额（元）").fill("249")
    form.get_by_role("button", name="确认收款").click()
    page.wait_for_url(f"{live_server}/orders/{ids['order']}")
    page.wait_for_load_state("networkidle")
    page.close()
    return {
        "marketer": ["/", "/tasks/", "/customers/", f"/customers/{ids['customer']}",
                     f"/customers/{ids['customer']}/edit", f"/orders/new/{ids['customer']}",
                     f"/orders/{ids['order']}", f"/events/{ids['event']}/invitations",
                     "/reports/performance", "/messages/",
                     f"/messages/customers/{ids['customer']}/new",
                     f"/messages/events/{ids['event']}/send?template_id={ids['template']}"],
        "finance": ["/", f"/orders/{ids['order']}", "/orders/", "/orders/arrears", "/orders/close",
                    "/reports/finance"],
        "manager": ["/", "/reports/", "/reports/company", f"/reports/events/{ids['event']}",
                    "/tasks/team", f"/events/{ids['event']}",
                    f"/events/{ids['event']}/seating", f"/points/customers/{ids['customer']}"],
        "warehouse": ["/", "/inventory/", "/inventory/products", "/inventory/moves",
                      f"/custody/customers/{ids['customer']}", "/gifts/",
                      f"/gifts/events/{ids['event']}/desk"],
        "staff": ["/checkin/", f"/checkin/{ids['event']}", f"/checkin/{ids['event']}/walk-in",
                  f"/gifts/events/{ids['event']}/desk"],
        "admin": ["/admin/users", "/admin/settings", "/admin/audit", "/messages/templates",
                  "/messages/templates/new", f"/messages/templates/{ids['template']}"],
    }


#: Screens looked at by a person after a change of the layout (test-artifacts/touch-*.png).
SCREENSHOTS = {"/tasks/", "/reports/performance", "/orders/new/", "/orders/", "/messages/"}


@pytest.mark.parametrize("role", ["marketer", "finance", "manager", "warehouse", "staff",
                                  "admin"])
def test_every_target_on_the_main_screens_is_44_px(page, live_server, screens, role):
    page.set_viewport_size({"width": 1024, "height": 768})
    sign_in(page, live_server, role)
    page.wait_for_url(f"{live_server}/")
    small = {}
    for path in screens[role]:
        page.goto(f"{live_server}{path}")
        # Measured once every request has ended: the layout is final, and leaving the page cuts
        # no download short (a dropped connection leaves the server a file it never closed).
        page.wait_for_load_state("networkidle")
        found = page.evaluate(MEASURE, [TARGETS, MINIMUM])
        if found:
            small[path] = found
        if any(path.startswith(prefix) for prefix in SCREENSHOTS):
            ARTIFACTS.mkdir(exist_ok=True)
            name = path.strip("/").replace("/", "-") or "home"
            page.screenshot(path=str(ARTIFACTS / f"touch-{role}-{name}.png"), full_page=True)
    assert small == {}, "\n".join(f"{path}: {target}" for path, targets in small.items()
                                  for target in targets)
