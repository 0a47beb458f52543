"""Sign-in, lockout, sign-out, own password, language, cookies, CSRF — over HTTP, in Chinese."""
from sqlalchemy import func, select

from models.accounts import User
from models.audit import AuditEntry
from tests.conftest import page_text
from tests.factories import PASSWORD, make_user


def count(db, model, *where):
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def sign_in(client, username, password=PASSWORD, **extra):
    return client.post("/auth/login", data={"username": username, "password": password,
                                            **extra})


def test_sign_in_page_is_chinese_by_default(client):
    response = client.get("/auth/login")
    assert response.status_code == 200
    text = page_text(response)
    assert "登录名" in text and "密码" in text and "会销通" in text


def test_sign_in_and_out(db, client):
    make_user(["marketer"], username="liufang", display_name="刘芳")
    response = sign_in(client, "liufang")
    assert response.status_code == 302 and response.location == "/"
    assert "欢迎，刘芳" in page_text(client.get("/"))
    response = client.post("/auth/logout")
    assert response.status_code == 302
    assert client.get("/").status_code == 302  # signed out again
    actions = list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions[-2:] == ["auth.sign_in", "auth.sign_out"]


def test_wrong_password_gets_a_chinese_message_and_writes_only_the_audit(db, client):
    user = make_user(username="wangwu")
    users_before = count(db, User)
    response = sign_in(client, "wangwu", "wrong-pass1")
    assert response.status_code == 401
    assert "登录名或密码错误" in page_text(response)
    assert count(db, User) == users_before
    assert count(db, AuditEntry, AuditEntry.action == "auth.sign_in_failed",
                 AuditEntry.target_id == user.id) == 1


def test_unknown_user_gets_the_same_message(db, client):
    response = sign_in(client, "ghost", "whatever1")
    assert response.status_code == 401
    assert "登录名或密码错误" in page_text(response)


def test_five_failures_lock_the_account_with_a_clear_message(db, client):
    make_user(username="zhaoliu")
    for _ in range(4):
        assert sign_in(client, "zhaoliu", "wrong-pass1").status_code == 401
    response = sign_in(client, "zhaoliu", "wrong-pass1")
    assert "锁定" in page_text(response) and "15" in page_text(response)
    response = sign_in(client, "zhaoliu")  # the right password, but locked
    assert response.status_code == 401
    assert "锁定" in page_text(response)


def test_deactivated_user_is_told_so(db, client):
    admin = make_user(["admin"])
    from models.accounts import deactivate_user
    deactivate_user(make_user(username="gone"), actor=admin)
    response = sign_in(client, "gone")
    assert response.status_code == 401
    assert "停用" in page_text(response)


def test_missing_csrf_token_is_a_400_with_a_chinese_message(db, client):
    make_user(username="qianqi")
    response = client.post("/auth/login", data={"username": "qianqi", "password": PASSWORD},
                           csrf=False)
    assert response.status_code == 400
    assert "刷新页面" in page_text(response)
    assert count(db, AuditEntry, AuditEntry.action.like("auth.%")) == 0


def test_overlong_field_is_refused_in_chinese(db, client):
    response = sign_in(client, "x" * 500)
    assert response.status_code == 422
    assert "40" in page_text(response)  # "长度不能超过 40 个字符" or similar
    assert count(db, AuditEntry) == 0


def test_empty_fields_say_what_is_missing(client):
    response = sign_in(client, "", "")
    assert response.status_code == 422
    text = page_text(response)
    assert "请输入登录名" in text and "请输入密码" in text


def test_next_only_follows_local_paths(db, client):
    make_user(username="sun")
    response = sign_in(client, "sun", next="/auth/password")
    assert response.location == "/auth/password"
    client.post("/auth/logout")
    for evil in ("https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:x"):
        response = sign_in(client, "sun", next=evil)
        assert response.location == "/", evil
        client.post("/auth/logout")


def test_anonymous_request_is_sent_to_sign_in_with_next(client):
    response = client.get("/admin/users?status=all")
    assert response.status_code == 302
    assert response.location.startswith("/auth/login?next=")
    htmx = client.get("/admin/users", headers={"HX-Request": "true"})
    assert htmx.status_code == 401 and htmx.headers["HX-Redirect"] == "/auth/login"


def test_session_cookie_is_httponly_lax_and_secure_over_https(db, client, app):
    make_user(username="zhou")
    response = sign_in(client, "zhou")
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith(
        app.config["SESSION_COOKIE_NAME"]))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    secure_client = app.test_client()
    response = secure_client.post("/auth/login", base_url="https://localhost", data={
        "username": "zhou", "password": PASSWORD, "csrf_token": secure_client.csrf_token()})
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith(
        app.config["SESSION_COOKIE_NAME"]))
    assert "Secure" in cookie


def test_a_signed_in_session_is_renewed_once_a_minute_not_on_every_request(db, client, app):
    """Signing the cookie again on every request costs the door's tablets CPU for nothing: a
    session signed less than a minute ago is not sent again; an older one is (its 12 hours
    start again), and the renewed cookie still signs the user in."""
    make_user(username="qian", display_name="钱会计")
    name = app.config["SESSION_COOKIE_NAME"]

    def sent(response):
        return [c for c in response.headers.getlist("Set-Cookie") if c.startswith(name)]
    assert sent(sign_in(client, "qian"))
    assert sent(client.get("/"))  # the welcome shown: the session changed
    response = client.get("/")
    assert response.status_code == 200 and sent(response) == []
    app.config["SESSION_RENEW_AFTER_S"] = 0
    response = client.get("/")
    assert response.status_code == 200 and len(sent(response)) == 1
    assert "Expires=" in sent(response)[0]
    app.config["SESSION_RENEW_AFTER_S"] = 60
    assert "钱会计" in page_text(client.get("/"))  # the renewed cookie is the signed-in one
    client.post("/auth/logout")
    assert client.get("/").status_code == 302


def test_change_own_password_signs_out_other_devices(db, client, app, login):
    user = login(make_user(username="wu"))
    other_device = app.test_client()
    other_device.post("/auth/login", data={"username": "wu", "password": PASSWORD,
                                           "csrf_token": other_device.csrf_token()})
    assert other_device.get("/").status_code == 200
    response = client.post("/auth/password", data={
        "current_password": PASSWORD, "new_password": "newpass789", "confirm": "newpass789"})
    assert response.status_code == 302
    assert client.get("/").status_code == 200           # this device stays signed in
    assert other_device.get("/").status_code == 302     # the other one is signed out
    assert user.auth_version == 2


def test_change_password_errors_show_next_to_the_fields(db, client, login):
    login(make_user())
    response = client.post("/auth/password", data={
        "current_password": "wrong-one1", "new_password": "newpass789",
        "confirm": "newpass789"})
    assert response.status_code == 422 and "当前密码不正确" in page_text(response)
    response = client.post("/auth/password", data={
        "current_password": PASSWORD, "new_password": "abc", "confirm": "abd"})
    assert response.status_code == 422 and "两次输入的新密码不一致" in page_text(response)
    response = client.post("/auth/password", data={
        "current_password": PASSWORD, "new_password": "abcdefgh", "confirm": "abcdefgh"})
    assert response.status_code == 422 and "字母和数字" in page_text(response)


def test_english_is_a_user_preference(db, client, login):
    login(make_user(display_name="Lee"))
    assert "首页" in page_text(client.get("/"))
    response = client.post("/auth/preferences", data={"locale": "en"})
    assert response.status_code == 302
    text = page_text(client.get("/"))
    assert "Home" in text and "首页" not in text
    assert client.post("/auth/preferences", data={"locale": "fr"}).status_code == 422


def test_sign_out_ends_the_session_on_the_server(db, client, app):
    make_user(username="heqing")
    assert sign_in(client, "heqing").status_code == 302
    copied = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    assert client.post("/auth/logout").status_code == 302
    # Whoever copied the cookie before the sign-out (a shared tablet, a stolen cookie) is out.
    thief = app.test_client()
    thief.set_cookie(app.config["SESSION_COOKIE_NAME"], copied)
    response = thief.get("/auth/password")
    assert response.status_code == 302 and response.location.startswith("/auth/login")


def test_signing_out_of_one_device_leaves_the_others_signed_in(db, client, app):
    make_user(username="tangmin")
    other_device = app.test_client()
    other_device.post("/auth/login", data={"username": "tangmin", "password": PASSWORD,
                                           "csrf_token": other_device.csrf_token()})
    assert sign_in(client, "tangmin").status_code == 302
    assert client.post("/auth/logout").status_code == 302
    assert other_device.get("/auth/password").status_code == 200
    assert client.get("/auth/password").status_code == 302


def test_each_sign_in_is_a_new_session_and_a_password_change_ends_the_old_one(db, client, app):
    from models.accounts import UserSession
    user = make_user(username="fangyu")
    name = app.config["SESSION_COOKIE_NAME"]
    sign_in(client, "fangyu")
    first = client.get_cookie(name).value
    client.post("/auth/logout")
    sign_in(client, "fangyu")
    with client.session_transaction() as session:
        before_change = session["_user_id"]
    assert client.get_cookie(name).value != first
    other_device = app.test_client()
    other_device.post("/auth/login", data={"username": "fangyu", "password": PASSWORD,
                                           "csrf_token": other_device.csrf_token()})
    assert count(db, UserSession, UserSession.user_id == user.id) == 2
    copied = client.get_cookie(name).value
    response = client.post("/auth/password", data={
        "current_password": PASSWORD, "new_password": "newpass789", "confirm": "newpass789"})
    assert response.status_code == 302
    with client.session_transaction() as session:
        assert session["_user_id"] != before_change  # a new session id on this device
    assert client.get("/auth/password").status_code == 200
    thief = app.test_client()
    thief.set_cookie(name, copied)
    assert thief.get("/auth/password").status_code == 302
    assert other_device.get("/auth/password").status_code == 302
    # Only this device's new session is left.
    assert count(db, UserSession, UserSession.user_id == user.id) == 1


def test_an_unknown_name_gets_the_same_answers_as_a_real_one_all_the_way(db, client):
    """No answer tells whether an account exists: not the wording, not the attempts left,
    not the lock (a real account locks after five; the unknown name is never locked)."""
    make_user(username="realname")

    def answers(username, address):
        seen = []
        for password in ["wrong-pass1"] * 7 + [PASSWORD]:
            response = client.post("/auth/login", data={"username": username,
                                                        "password": password},
                                   environ_base={"REMOTE_ADDR": address})
            seen.append((response.status_code, page_text(response),
                         response.headers.get("Retry-After")))
        return seen

    real, unknown = answers("realname", "10.9.0.1"), answers("nosuchname", "10.9.0.2")
    assert real == unknown
    assert real[0][0] == 401 and "登录名或密码错误" in real[0][1]
    assert db.session.scalar(select(User.locked_until).where(User.username == "realname"))


def test_the_sign_in_page_does_not_carry_another_site_as_next(client):
    html = client.get("/auth/login?next=//evil.example/x").get_data(as_text=True)
    assert "evil.example" not in html
    html = client.get("/auth/login?next=/tasks/%3Fkind%3Dcare").get_data(as_text=True)
    assert 'value="/tasks/?kind=care"' in html
