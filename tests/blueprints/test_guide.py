"""The operation guide (帮助): each role's page in Chinese with its five things and their
screenshots, the 帮助 link of a page opening the right section, the one-page quick-start card."""
import io
from pathlib import Path

import pytest
from pypdf import PdfReader

from blueprints.guide.content import GUIDES
from models.accounts import ROLES
from tests.conftest import page_text
from tests.factories import make_user

STATIC = Path(__file__).resolve().parents[2] / "static"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
HEADINGS = {"marketer": "业务员：每天的五件事", "event_staff": "会务：每天的五件事",
            "warehouse": "仓管：每天的五件事", "finance": "财务：每天的五件事",
            "dept_head": "部门主管：每天的五件事", "manager": "企业领导：每天的五件事",
            "admin": "系统管理员：每天的五件事"}


def test_every_role_has_a_guide_of_five_things():
    assert set(GUIDES) == set(ROLES) == set(HEADINGS)
    for guide in GUIDES.values():
        assert [task.number for task in guide.tasks] == [1, 2, 3, 4, 5]
        for task in guide.tasks:
            assert len(task.steps) >= 2 and task.endpoints, (guide.role, task.number)


@pytest.mark.parametrize("role", sorted(ROLES))
def test_each_role_guide_renders_in_chinese_with_its_screenshots(client, login, db, role):
    login("marketer")  # any signed-in user may read every role's guide
    response = client.get(f"/guide/{role}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    text = page_text(response)
    assert HEADINGS[role] in text and "上手卡（PDF）" in text
    for task in GUIDES[role].tasks:
        assert f'id="task-{task.number}"' in html
        assert f"{task.number}. {task.title}" in text
        image = f"/static/guide/{role}/{task.number}.png"
        assert image in html
        # Committed with the code (the browser test refreshes them), small enough to serve.
        path = STATIC / "guide" / role / f"{task.number}.png"
        assert path.is_file() and path.stat().st_size < 150_000, path
        served = client.get(image)
        assert served.status_code == 200 and served.mimetype == "image/png"
        served.close()


def test_the_whole_set_of_screenshots_stays_small():
    files = list((STATIC / "guide").rglob("*.png"))
    assert len(files) == 5 * len(ROLES)
    assert sum(path.stat().st_size for path in files) < 3_000_000


def test_unknown_role_is_a_404(client, login, db):
    login("marketer")
    assert client.get("/guide/boss").status_code == 404
    assert client.get("/guide/boss/card.pdf").status_code == 404


def test_guide_index_lists_every_role_own_first(client, login, db):
    login("finance")
    text = page_text(client.get("/guide/"))
    assert "操作指南" in text
    positions = [text.index(str(label)) for label in ("财务", "业务员", "系统管理员")]
    assert positions[0] == min(positions)


def help_link(client, path):
    html = client.get(path).get_data(as_text=True)
    return html.split('data-testid="help-link"', 1)[1].split('href="', 1)[1].split('"', 1)[0]


@pytest.mark.parametrize("role, path, expected", [
    ("marketer", "/tasks/", "/guide/marketer#task-1"),
    ("marketer", "/orders/arrears", "/guide/marketer#task-5"),
    ("finance", "/orders/close", "/guide/finance#task-3"),
    ("finance", "/orders/arrears", "/guide/finance#task-2"),
    ("warehouse", "/inventory/products", "/guide/warehouse#task-2"),
    ("event_staff", "/checkin/", "/guide/event_staff#task-1"),
    ("admin", "/admin/settings", "/guide/admin#task-4"),
    ("admin", "/", "/guide/admin#task-1"),
    # A page no task covers: the guide whose area it is in, else the user's own.
    ("warehouse", "/inventory/products/new", "/guide/warehouse"),
    ("finance", "/auth/password", "/guide/finance"),
    ("marketer", "/", "/guide/marketer"),
    # A page only another role's guide explains: that section (a manager at the door).
    ("manager", "/checkin/", "/guide/event_staff#task-1"),
])
def test_help_link_opens_the_section_for_the_page(client, login, db, role, path, expected):
    login(role)
    assert help_link(client, path) == expected


def test_help_link_prefers_the_users_own_role(client, login, db):
    login(make_user(["warehouse", "event_staff"]))
    # The gift desk is in both guides: event staff comes first in the order of roles.
    assert help_link(client, "/guide/") == "/guide/event_staff"


@pytest.mark.parametrize("role", sorted(ROLES))
def test_quick_start_card_is_one_a4_page_in_chinese(client, login, db, role):
    login("marketer")
    response = client.get(f"/guide/{role}/card.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    ARTIFACTS.mkdir(exist_ok=True)  # for people to look at
    (ARTIFACTS / f"guide-card-{role}.pdf").write_bytes(response.data)
    reader = PdfReader(io.BytesIO(response.data))
    assert len(reader.pages) == 1
    width, height = (float(v) for v in reader.pages[0].mediabox[2:])
    assert (round(width), round(height)) == (595, 842)  # A4 in points
    text = "".join(reader.pages[0].extract_text().split())
    assert "上手卡：" + HEADINGS[role].split("：")[0] in text
    for task in GUIDES[role].tasks:
        assert "".join(task.title.split()) in text, task.title
