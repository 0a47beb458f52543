"""Administration screens: users, roles, departments, deactivation, settings, the audit log."""
from sqlalchemy import select

from models.accounts import Department, User
from models.audit import AuditEntry
from models.settings import DEFINITIONS, get_setting
from tests.conftest import page_text
from tests.factories import PASSWORD, make_department, make_user


def audit_rows(response):
    """The text of the audit table's body (not the filter's options)."""
    text = page_text(response)
    return text[text.index("IP 地址"):]


def new_user_data(**kw):
    return {"username": "chenwei", "display_name": "陈伟", "phone": "13912345678",
            "department_id": 0, "roles": ["marketer", "event_staff"], "password": "start2026",
            "confirm": "start2026", **kw}


def test_admin_creates_a_user_with_roles_and_department(db, client, login):
    login("admin")
    sales = make_department("销售二部")
    response = client.post("/admin/users/new", data=new_user_data(department_id=sales.id))
    assert response.status_code == 302
    user = db.session.scalar(select(User).where(User.username == "chenwei"))
    assert response.location == f"/admin/users/{user.id}"
    assert user.roles == ["marketer", "event_staff"] and user.department is sales
    assert user.phone == "+8613912345678"
    assert "已创建用户：陈伟" in page_text(client.get(response.location))
    listing = page_text(client.get("/admin/users?q=chen"))
    assert "陈伟" in listing and "业务员、会务" in listing


def test_new_user_errors_are_chinese_and_write_nothing(db, client, login):
    login("admin")
    make_user(username="chenwei")
    before = db.session.scalar(select(db.func.count(User.id)))
    cases = [
        (new_user_data(), "登录名 chenwei 已被使用"),
        (new_user_data(username="new1", phone="12345"), "不是有效的手机号"),
        (new_user_data(username="new2", password="abc", confirm="abc"), "至少 8 个字符"),
        (new_user_data(username="new3", confirm="other2026"), "两次输入的密码不一致"),
        (new_user_data(username="new4", roles=[]), "请至少选择一个角色"),
        (new_user_data(username="new5", roles=["boss"]), "不是有效的选项"),
        (new_user_data(username="new6", display_name="名" * 41), "40"),
        (new_user_data(username="new7", department_id=999999), "不是有效的选择"),
    ]
    for data, message in cases:
        response = client.post("/admin/users/new", data=data)
        assert response.status_code in (409, 422), message
        assert message in page_text(response), (message, page_text(response)[:400])
    assert db.session.scalar(select(db.func.count(User.id))) == before


def test_deactivated_user_is_signed_out_and_cannot_sign_in(db, client, app, login):
    leaver = make_user(["marketer"], username="leaver")
    their_tablet = app.test_client()
    their_tablet.post("/auth/login", data={"username": "leaver", "password": PASSWORD,
                                           "csrf_token": their_tablet.csrf_token()})
    assert their_tablet.get("/").status_code == 200
    login("admin")
    response = client.post(f"/admin/users/{leaver.id}/deactivate")
    assert response.status_code == 302
    assert "已停用" in page_text(client.get(response.location))
    assert their_tablet.get("/").status_code == 302
    assert not leaver.is_active
    response = client.post(f"/admin/users/{leaver.id}/reactivate")
    assert leaver.is_active


def test_admin_cannot_deactivate_themself(db, client, login):
    me = login("admin")
    response = client.post(f"/admin/users/{me.id}/deactivate")
    assert response.status_code == 302
    assert "不能停用自己的账号" in page_text(client.get(response.location))
    assert me.is_active


def test_admin_edits_roles_and_resets_a_password(db, client, login):
    login("admin")
    target = make_user(["marketer"], username="target")
    response = client.post(f"/admin/users/{target.id}", data={
        "display_name": "新名字", "phone": "", "department_id": 0,
        "roles": ["dept_head", "marketer"]})
    assert response.status_code == 302
    assert target.roles == ["dept_head", "marketer"] and target.display_name == "新名字"
    response = client.post(f"/admin/users/{target.id}/password",
                           data={"reset-new_password": "short"})
    assert response.status_code == 422 and "至少 8 个字符" in page_text(response)
    response = client.post(f"/admin/users/{target.id}/password",
                           data={"reset-new_password": "reset2026"})
    assert response.status_code == 302
    entry = db.session.scalars(select(AuditEntry).where(
        AuditEntry.action == "user.reset_password")).one()
    assert entry.target_id == target.id and "reset2026" not in str(entry.details)


def test_unknown_user_id_is_a_404_page_in_chinese(db, client, login):
    login("admin")
    response = client.get("/admin/users/999999")
    assert response.status_code == 404 and "不存在" in page_text(response)


def test_departments_tree_and_move(db, client, login):
    login("admin")
    assert client.post("/admin/departments", data={"name": "总部", "parent_id": 0}).status_code \
        == 302
    hq = db.session.scalar(select(Department).where(Department.name == "总部"))
    client.post("/admin/departments", data={"name": "销售部", "parent_id": hq.id})
    sales = db.session.scalar(select(Department).where(Department.name == "销售部"))
    response = client.post(f"/admin/departments/{hq.id}", data={
        "name": "总部", "parent_id": sales.id, "is_active": "y"})
    assert response.status_code == 422 and "不能放在它自己" in page_text(response)
    response = client.post("/admin/departments", data={"name": "销售部", "parent_id": hq.id})
    assert response.status_code == 409 and "已有名为 销售部 的部门" in page_text(response)
    text = page_text(client.get("/admin/departments"))
    assert text.index("总部") < text.index("销售部")


def test_settings_page_saves_and_refuses_bad_values(db, client, login):
    login("admin")
    page = page_text(client.get("/admin/settings"))
    assert "公司名称" in page and "时区" in page
    data = {key.replace(".", "__"): value for key, value in (
        (key, get_setting(key)) for key in DEFINITIONS)}
    data.update({"general__company_name": "康寿健康", "security__lockout_minutes": "20"})
    response = client.post("/admin/settings", data=data)
    assert response.status_code == 302
    assert get_setting("security.lockout_minutes") == 20
    assert "康寿健康" in page_text(client.get("/"))
    response = client.post("/admin/settings", data={**data, "general__timezone": "Mars/Base"})
    assert response.status_code == 422 and "不是已知的时区" in page_text(response)
    response = client.post("/admin/settings", data={**data,
                                                    "security__lockout_minutes": "abc"})
    assert response.status_code == 422
    assert get_setting("security.lockout_minutes") == 20


def test_audit_log_for_admins_and_managers_with_filters(db, client, app, login):
    make_user(username="someone")
    other = app.test_client()
    other.post("/auth/login", data={"username": "someone", "password": "nope-nope1",
                                    "csrf_token": other.csrf_token()})
    login("manager")
    response = client.get("/admin/audit?action=auth.sign_in_failed")
    assert response.status_code == 200
    rows = audit_rows(response)
    assert "登录失败" in rows and "密码错误" in rows and "创建用户" not in rows
    rows = audit_rows(client.get("/admin/audit?action=user.create"))
    assert "创建用户" in rows and "登录失败" not in rows
    # A bad date is ignored with a note, never a 500.
    response = client.get("/admin/audit?start=2026-13-45&actor_id=abc")
    assert response.status_code == 200 and "日期" in page_text(response)


def test_user_page_shows_the_phone_as_typed(db, client, login):
    login("admin")
    target = make_user(["marketer"], phone="13912345678")
    html = client.get(f"/admin/users/{target.id}").get_data(as_text=True)
    assert 'value="13912345678"' in html and "+86" not in html
