"""Chinese first: every user-facing message of the code has a zh_CN translation."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import i18n  # noqa: E402


def test_zh_cn_catalogue_is_complete():
    problems = i18n.problems("zh_CN")
    assert problems == [], "run `make i18n` and translate: " + "; ".join(
        f"{reason}: {text}" for text, reason in problems[:20])


def test_catalogue_is_not_committed_compiled():
    ignored = (Path(__file__).resolve().parent.parent / ".gitignore").read_text()
    assert "*.mo" in ignored


def test_translations_follow_a_change_of_language_within_a_request(app):
    """Translations are looked up once a request (extensions.RequestDomain) — and again when
    the language changes: a user picking theirs (`refresh()`) or a message in another one
    (`force_locale`), in templates and in code alike."""
    from flask import render_template_string
    from flask_babel import force_locale, gettext, refresh

    def both():
        return gettext("Done"), render_template_string("{{ _('Done') }}")

    default = app.config["BABEL_DEFAULT_LOCALE"]
    try:
        with app.test_request_context():
            assert both() == ("已完成", "已完成")
            with force_locale("en"):
                assert both() == ("Done", "Done")
            assert both() == ("已完成", "已完成")
            app.config["BABEL_DEFAULT_LOCALE"] = "en"  # set back below: the session's app
            assert both() == ("已完成", "已完成")  # this request's language until it is refreshed
            refresh()
            assert both() == ("Done", "Done")
        with app.test_request_context():
            assert both() == ("Done", "Done")
            app.config["BABEL_DEFAULT_LOCALE"] = default
            refresh()
            assert both() == ("已完成", "已完成")
    finally:
        app.config["BABEL_DEFAULT_LOCALE"] = default
