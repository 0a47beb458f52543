"""Browser tests: the app served from a thread on a file SQLite database built by migrations,
driven by Playwright in Debian's Chromium (no browser download)."""
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask_migrate import upgrade
from werkzeug.serving import make_server

from extensions import db
from tests.conftest import make_test_app

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM,
            "args": ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update",
                     "--disable-sync"]}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1024, "height": 768},
            "locale": "zh-CN"}


#: A headless Chromium has no print dialog: asking for one (a slip printed from the tap that
#: handed the goods over) crashes its page. In every frame print() only tells the page it was
#: called (document.body.dataset.printed on the top page).
NO_PRINT_DIALOG = "window.print = function () { window.top.document.body.dataset.printed = '1'; };"


class _NoPrintDialogs:
    """The session's browser, whose every new page and context gets NO_PRINT_DIALOG."""

    def __init__(self, browser):
        self._browser = browser

    def __getattr__(self, name):
        return getattr(self._browser, name)

    def new_context(self, **options):
        context = self._browser.new_context(**options)
        context.add_init_script(NO_PRINT_DIALOG)
        return context

    def new_page(self, **options):
        page = self._browser.new_page(**options)
        page.add_init_script(NO_PRINT_DIALOG)
        return page


@pytest.fixture(scope="session")
def browser(browser):
    return _NoPrintDialogs(browser)


@pytest.fixture(scope="session")
def live_app(tmp_path_factory):
    """The app the browser talks to: the demo company on a file SQLite database."""
    from blueprints.admin.commands import load_demo_data
    app = fresh_app(tmp_path_factory.mktemp("browser"))
    with app.app_context():
        load_demo_data(echo=lambda *a: None)
        db.session.commit()
        db.session.remove()
    return app


def fresh_app(folder):
    """An app on a new file SQLite database in `folder`, migrated and empty."""
    app = make_test_app(f"sqlite:///{folder / 'browser.db'}", folder)
    with app.app_context():
        upgrade()
    return app


def answered_whole(app):
    """`app` with each answer read to its end and closed before it is sent. werkzeug's
    development server closes an answer only after it has drained the socket: when the browser
    has hung up (a page closed while its icon loads) that raises first, the static file stays
    open, and the ResourceWarning at its collection fails whichever test then runs."""
    def whole(environ, start_response):
        answer = app(environ, start_response)
        try:
            return [b"".join(answer)]
        finally:
            if hasattr(answer, "close"):
                answer.close()
    return whole


@contextmanager
def serving(app):
    """Serve `app` from a thread at a local address (yielded) until the block ends."""
    server = make_server("127.0.0.1", 0, answered_whole(app), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)


@pytest.fixture(scope="session")
def live_server(live_app):
    """The demo company, served at a local address for the browser."""
    with serving(live_app) as url:
        yield url


@pytest.fixture
def screenshot(page):
    """screenshot(name): save the page as test-artifacts/<name>.png (looked at by people)."""
    ARTIFACTS.mkdir(exist_ok=True)

    def take(name):
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path
    return take


@pytest.fixture(autouse=True)
def no_csp_violations(request):
    """Every browser test fails if the page broke the Content-Security-Policy (a refused script
    or style shows as a console error in Chromium)."""
    if "page" not in request.fixturenames:
        yield
        return
    page = request.getfixturevalue("page")
    refused = []
    page.on("console", lambda message: refused.append(message.text)
            if "Content Security Policy" in message.text else None)
    yield
    assert refused == []
