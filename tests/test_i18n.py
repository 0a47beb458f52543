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
