"""Chinese throughout: every page a user of any role opens reads in Chinese — no English word
left in what it shows (text, placeholders, tooltips, the text of a PDF, the cells of a
spreadsheet) but the few that Chinese users read as they are (PDF, QR, SKU …) — and a word with
two meanings is translated by its context (a product's 名称 is not a person's 姓名).

The pages come from app.url_map and the roles from the MATRIX of test_permissions, the ids from
the sample company of tests/world.py, so a new page is walked without being listed here."""
import io
import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from models import events as ev
from models.accounts import ROLES
from models.audit import AuditEntry
from models.base import utcnow
from models.settings import update_settings
from tests.blueprints.test_permissions import MATRIX
from tests.conftest import page_text
from tests.factories import make_user
from tests.world import build_world, fill, sign_in_as

#: Latin words a Chinese user reads as they are.
ALLOWED = {
    "PDF", "xlsx", "QR", "SKU", "PIN", "IP", "ROI", "UTC",
    "RFM",  # the marketing model, read as it is (RFM 模型), as ROI is
    "English",  # the language's own name, in the language menu
    "zs",  # how a name's initials are typed (张三 → zs), in the door's search box
    "zxl", "zsz",  # and the guide's examples of it (张秀兰, 赵淑珍), on its printed card too
}
#: Who walks the pages for each role (a user of the sample company holding that role only).
WALKERS = {"admin": "admin", "manager": "manager", "dept_head": "head1", "marketer": "m1",
           "event_staff": "staff1", "warehouse": "warehouse", "finance": "finance"}
#: Attributes whose text a person sees (a tooltip, a placeholder) or hears (a screen reader).
SHOWN_ATTRIBUTES = {"placeholder", "title", "alt", "aria-label"}
#: Elements whose text is not prose: scripts, and commands typed as they are (<code>).
NOT_PROSE = {"script", "style", "template", "code", "kbd", "samp"}
#: A run of letters, digits and joiners: a word only if it is letters alone ("B1", "user12",
#: "RK20261206-00001" and "2026-12-06" are codes, numbers and dates — data, not words).
RUN = re.compile(r"[A-Za-z0-9_.'’-]+")
WORD = re.compile(r"[A-Za-z]{2,}(?:['’][a-z]+)?")


class ShownText(HTMLParser):
    """The text of an HTML page as a person meets it."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts, self.hidden = [], 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in NOT_PROSE:
            self.hidden += 1
        self.parts += [value for name, value in attrs.items()
                       if name in SHOWN_ATTRIBUTES and value]
        if tag == "input" and attrs.get("type") in ("submit", "button") and attrs.get("value"):
            self.parts.append(attrs["value"])

    def handle_endtag(self, tag):
        if tag in NOT_PROSE:
            self.hidden = max(0, self.hidden - 1)

    def handle_data(self, data):
        if not self.hidden:
            self.parts.append(data)


def shown_text(response):
    """What a response shows: an HTML page's text, a PDF's text, a spreadsheet's cells."""
    data = response.get_data()
    if response.mimetype == "application/pdf":
        return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    if response.mimetype.endswith("spreadsheetml.sheet"):
        book = load_workbook(io.BytesIO(data), read_only=True)
        text = "\n".join(str(value) for sheet in book for row in sheet.iter_rows(values_only=True)
                         for value in row if value is not None)
        book.close()
        return text
    if response.mimetype == "text/html":
        parser = ShownText()
        parser.feed(data.decode("utf-8", "replace"))
        return "\n".join(parser.parts)
    return ""  # JSON for the page's scripts, an empty 204: nothing shown as such


def english_words(text):
    """The English words in `text` outside ALLOWED, each with a little of its surroundings."""
    found = {}
    for match in RUN.finditer(text):
        run = match.group().strip(".-_'’")
        if WORD.fullmatch(run) and run not in ALLOWED:
            around = text[max(0, match.start() - 20):match.end() + 20]
            found.setdefault(run, " ".join(around.split()))
    return found


def pages(app, role):
    for rule in app.url_map.iter_rules():
        if (rule.endpoint in MATRIX and role in MATRIX[rule.endpoint] and "GET" in rule.methods
                and rule.endpoint != "auth.logout"):
            yield rule


def test_english_words_are_found():
    """The test below can fail: what it would catch, and what it lets through."""
    text = shown_text_of("<p>状态：planning → open</p><input placeholder='Search'>"
                         "<p>批次 B1，单号 RK20261206-00001，user12，打印（PDF），A 级</p>"
                         "<p><code>flask run</code></p><script>let x = 'done';</script>")
    assert sorted(english_words(text)) == ["Search", "open", "planning"]


def shown_text_of(html):
    parser = ShownText()
    parser.feed(html)
    return "\n".join(parser.parts)


@pytest.mark.parametrize("role", sorted(ROLES))
def test_every_page_reads_in_chinese(app, client, db, role):
    """Every page the role may open (HTML, PDF, xlsx), filled with the sample company's rows, a
    settings change and an event moved along in the audit log: no English word shows."""
    world = build_world()
    update_settings({"custody.release_rule": "full", "orders.large_needs_family": True},
                    actor=world.users["admin"])
    sign_in_as(client, world.users[WALKERS[role]])
    opened, wrong = 0, {}
    for rule in pages(app, role):
        response = client.get(fill(rule, world.ids))
        if 200 <= response.status_code < 300:
            opened += 1
            for word, around in english_words(shown_text(response)).items():
                wrong.setdefault(word, f"{rule.endpoint}: …{around}…")
        response.close()
    assert opened >= 10
    assert wrong == {}, "\n".join(f"{word!r} on {where}" for word, where in sorted(wrong.items()))


# --- Words with two meanings, settings as choices, labelled values in the audit log ---------

def test_a_things_name_is_not_a_persons(db, client, login):
    """名称 heads the lists of products, warehouses and packages; 姓名 stays for people."""
    login("manager")
    for path in ("/inventory/products", "/inventory/warehouses", "/orders/packages"):
        text = page_text(client.get(path))
        assert "名称" in text and "姓名" not in text, path
    assert "姓名" in page_text(client.get("/customers/"))


def test_stock_moves_run_from_a_place_to_a_place(db, client, login):
    world = build_world()
    sign_in_as(client, world.users["warehouse"])
    text = page_text(client.get("/inventory/moves"))
    assert "来源" in text and "去向" in text and "开始日期" not in text


def test_a_receipt_is_dated_not_given_a_period(db, client):
    world = build_world()
    sign_in_as(client, world.users["m1"])
    response = client.get(f"/orders/{world.ids['order_id']}/receipt.pdf")
    assert response.status_code == 200
    text = shown_text(response)
    assert "日期：" in text and "时间范围" not in text


CHOSEN = {"custody.release_rule": ("proportional", "按已付款比例领取", "full", "订单付清后才能领取"),
          "points.referral_reward": ("points", "下方的奖励积分", "gift", "下方的赠品"),
          "points.referral_trigger": ("buy", "购买", "attend", "到会"),
          "gifts.on_return": ("return", "随退货一起收回", "charge", "留给顾客，成本照记")}


def test_settings_with_a_few_values_are_chosen_by_their_chinese_labels(db, client, login):
    """The four settings once typed as English keywords are lists of Chinese labels; the value
    stored is the keyword, and the audit log shows the labels."""
    from models.settings import DEFINITIONS, get_setting
    login("admin")
    html = client.get("/admin/settings").get_data(as_text=True)
    for key, (old, old_label, new, new_label) in CHOSEN.items():
        name = key.replace(".", "__")
        assert re.search(rf'<select[^>]*name="{name}"', html), key
        assert f'<option selected value="{old}">{old_label}</option>' in html, key
        assert f'<option value="{new}">{new_label}</option>' in html, key
    data = {key.replace(".", "__"): get_setting(key) for key in DEFINITIONS}
    data.pop("orders__large_needs_family")  # an unticked box is not sent
    data.update({key.replace(".", "__"): new for key, (_o, _ol, new, _nl) in CHOSEN.items()})
    if "points__referral_gift_sku" in data:
        data["points__referral_gift_sku"] = ""
    data["points__referral_reward"] = "points"  # a gift reward needs a gift's code
    response = client.post("/admin/settings", data=data)
    assert response.status_code == 302, page_text(response)[:500]
    assert get_setting("custody.release_rule") == "full"
    assert get_setting("gifts.on_return") == "charge"
    response = client.post("/admin/settings", data={**data, "gifts__on_return": "keep"})
    assert response.status_code == 422 and get_setting("gifts.on_return") == "charge"
    text = page_text(client.get("/admin/audit?action=settings.update"))
    assert "按已付款比例领取 → 订单付清后才能领取" in text
    assert "随退货一起收回 → 留给顾客，成本照记" in text and "购买 → 到会" in text


def test_the_audit_log_shows_labels_not_codes(db):
    admin = make_user(["admin"])
    update_settings({"orders.large_needs_family": True, "customers.export_roles": ["admin"]},
                    actor=admin)
    start = utcnow() + timedelta(days=3)
    event = ev.create_event(title="讲座", kind="lecture", venue="酒店", capacity=10,
                            starts_at=start, ends_at=start + timedelta(hours=2), actor=admin)
    ev.change_event_status(event, "open", actor=admin)
    db.session.flush()
    changes = {str(label): (str(before), str(after)) for entry in db.session.scalars(
        db.select(AuditEntry).where(AuditEntry.action.in_(("settings.update", "event.status"))))
        for label, before, after in entry.changes}
    assert changes["状态"] == ("筹备中", "邀约中")
    assert changes["大额订单须告知家属"] == ("否", "是")
    assert changes["允许导出顾客的角色"] == ("系统管理员、企业领导", "系统管理员")
