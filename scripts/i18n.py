"""Translation catalogue chores: extract, update, compile, check (run through `make`).

    python scripts/i18n.py update    # extract messages, merge into the zh_CN catalogue
    python scripts/i18n.py compile   # .po -> .mo (the set-up does this; .mo files are not kept)
    python scripts/i18n.py check     # every message of the code has a zh_CN translation
    python scripts/i18n.py fill F.json ...  # fill empty zh_CN entries from {msgid: 中文} files

A word with two meanings gets a message context in the code (`pgettext("thing", "Name")` →
名称 beside `_("Name")` → 姓名); in a fill file its key is the context, "\u0004" (gettext's
separator) and the msgid: {"thing\u0004Name": "名称"}.
"""
import json
import os
import re
import sys
from pathlib import Path

from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "translations"
LOCALES = ["zh_CN"]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None,
            "pgettext": ((1, "c"), 2), "lazy_pgettext": ((1, "c"), 2), "_lp": ((1, "c"), 2)}
#: Separates a message's context from its msgid in a fill file's keys (as in a .mo file).
CONTEXT_SEPARATOR = "\x04"
METHODS = [("**/.venv/**", "ignore"), ("**/tests/**", "ignore"), ("**.py", "python"),
           ("templates/**.html", "jinja2")]
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def extract():
    """Every translatable message in the code and templates, as a Catalog."""
    catalog = Catalog(project="huixiaotong", charset="utf-8")
    for filename, lineno, message, comments, context in extract_from_dir(
            str(ROOT), method_map=METHODS, keywords=KEYWORDS, directory_filter=_searched,
            options_map={"templates/**.html": {"extensions": "jinja2.ext.do"}}):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments,
                    context=context)
    return catalog


def _searched(path):
    """Babel skips folders starting with "_" by default, and with them templates/_macros."""
    return not os.path.basename(path).startswith((".", "__"))


def po_path(locale):
    return TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"


def load(locale):
    with open(po_path(locale), "rb") as fh:
        return read_po(fh, locale=locale)


def update():
    template = extract()
    for locale in LOCALES:
        catalog = load(locale)
        catalog.update(template, no_fuzzy_matching=True)
        with open(po_path(locale), "wb") as fh:
            write_po(fh, catalog, omit_header=False, sort_output=True, width=100,
                     include_previous=False)
    print(f"{len(template)} messages")


def fill(paths, locale="zh_CN"):
    """Fill the catalogue's empty translations from JSON files of {msgid: translation} (a
    translator's worksheet); entries already translated are left as they are."""
    table = {}
    for path in paths:
        for key, string in json.loads(Path(path).read_text(encoding="utf-8")).items():
            context, _sep, msgid = key.rpartition(CONTEXT_SEPARATOR)
            table[(context or None, msgid)] = string
    catalog = load(locale)
    filled = 0
    for message in catalog:
        key = (message.context, message.id)
        if message.id and not message.string and key in table:
            message.string = table[key]
            filled += 1
    with open(po_path(locale), "wb") as fh:
        write_po(fh, catalog, omit_header=False, sort_output=True, width=100,
                 include_previous=False)
    print(f"{filled} filled")


def compile_all():
    """Write each catalogue's .mo where Flask-Babel looks for it. Babel parses "zh_CN" into
    zh_Hans_CN and gettext then searches translations/zh_Hans_CN and translations/zh, never
    translations/zh_CN (a known Babel/Flask-Babel behaviour), so the compiled file goes there
    too; the .po stays under the name translators know."""
    for locale in LOCALES:
        catalog = load(locale)
        for name in {locale, str(Locale.parse(locale))}:
            target = TRANSLATIONS / name / "LC_MESSAGES" / "messages.mo"
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "wb") as fh:
                write_mo(fh, catalog)


def problems(locale="zh_CN"):
    """Messages of the code that lack a usable translation, with the reason."""
    catalog = load(locale)
    found = []
    for message in extract():
        if not message.id:
            continue
        translated = catalog.get(message.id, context=message.context)
        singular = message.id[0] if isinstance(message.id, tuple) else message.id
        string = translated.string if translated else None
        string = string[0] if isinstance(string, tuple) else string
        if not string:
            found.append((singular, "missing"))
        elif translated.fuzzy:
            found.append((singular, "fuzzy"))
        elif set(PLACEHOLDER.findall(singular)) != set(PLACEHOLDER.findall(string)):
            found.append((singular, "placeholders differ"))
    return found


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "check"
    if command == "update":
        update()
    elif command == "fill":
        fill(sys.argv[2:])
    elif command == "compile":
        compile_all()
    elif command == "check":
        missing = problems()
        for text, reason in missing:
            print(f"{reason}: {text}")
        sys.exit(1 if missing else 0)
    else:
        sys.exit(__doc__)
