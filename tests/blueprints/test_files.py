"""Files out: every route that answers a PDF or a spreadsheet names the file in Chinese (RFC 5987
``filename*=UTF-8''…``, with an ASCII ``filename=`` for old clients), opens a PDF in the browser
and downloads a spreadsheet. The routes come from app.url_map, so a new file route is walked
without being listed here."""
import re
from urllib.parse import unquote

from extensions import db as _db
from models import events as ev
from tests.blueprints.test_permissions import MATRIX
from tests.factories import make_customer
from tests.world import build_world, fill, sign_in_as

#: The user of the sample company who opens a route allowed to any of these roles, best first.
USERS = [("manager", "manager"), ("admin", "admin"), ("finance", "finance"),
         ("dept_head", "head1"), ("marketer", "m1"), ("warehouse", "warehouse"),
         ("event_staff", "staff1")]
FILES = {".pdf": ("inline", "application/pdf"),
         ".xlsx": ("attachment",
                   "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")}
CJK = re.compile(r"[\u4e00-\u9fff]")


def file_routes(app):
    for rule in app.url_map.iter_rules():
        ext = next((e for e in FILES if rule.rule.endswith(e)), None)
        if ext:
            method = "POST" if "POST" in rule.methods else "GET"
            yield rule, method, ext


def test_every_file_route_is_walked(app):
    endpoints = {rule.endpoint for rule, _method, _ext in file_routes(app)}
    assert {"customers.export", "customers.import_template", "gifts.ledger_xlsx",
            "orders.receipt", "reports.finance_xlsx", "admin.audit_pdf"} <= endpoints
    assert len(endpoints) >= 20


def own_files(world):
    """Files that are one person's own, made for the manager (the first of USERS with the
    role): an opening import with a bad row to download, a finished export of customers."""
    from models import background, opening
    from reports import xlsx
    manager = world.users["manager"]
    batch = opening.upload(opening.KINDS["points"], "积分.xlsx", xlsx.write_workbook(
        "积分", ["手机号", "积分余额"], [["13900009999", 10]]), actor=manager)
    opening.confirm(batch, mode="good", actor=manager)
    run = background.enqueue("customer_export", actor=manager)
    background.claim_next()
    _db.session.refresh(run)
    background.finish(run, {"rows": 0}, content=xlsx.write_workbook("顾客", ["姓名"], []))
    _db.session.flush()
    return {"opening.bad_rows": {"token": batch.token}, "runs.download": {"token": run.token}}


def test_every_file_has_a_chinese_name(app, client, db):
    world = build_world()
    # A confirmed guest, whose card the event's cards print (the world's guests have arrived).
    guest = make_customer(world.users["m1"], name="顾客三")
    _db.session.add(ev.Invitation(event_id=world.ids["event_id"], customer_id=guest.id,
                                  inviter_id=world.users["m1"].id, status="confirmed"))
    _db.session.flush()
    own = own_files(world)
    problems, walked = [], 0
    for rule, method, ext in file_routes(app):
        roles = MATRIX[rule.endpoint]
        user = next(name for role, name in USERS if role in roles)
        sign_in_as(client, world.users[user])
        path = fill(rule, {**world.ids, **own.get(rule.endpoint, {})})
        response = client.post(path) if method == "POST" else client.get(path)
        response.close()
        walked += 1
        if response.status_code != 200:
            problems.append((rule.endpoint, response.status_code))
            continue
        disposition, mimetype = FILES[ext]
        header = response.headers.get("Content-Disposition", "")
        match = re.search(r"filename\*=UTF-8''([^;]+)", header)
        name = unquote(match[1]) if match else ""
        if not header.startswith(disposition + ";") or response.mimetype != mimetype:
            problems.append((rule.endpoint, header, response.mimetype))
        elif not (name.endswith(ext) and CJK.search(name)
                  and re.search(r'(^|; )filename="\w', header)):
            problems.append((rule.endpoint, header))
    assert walked >= 20
    assert not problems, "\n".join(map(str, problems))
