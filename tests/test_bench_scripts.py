"""Every bench script runs as its docstring says (`.venv/bin/python bench/NAME.py`).

Run that way, bench/ comes first on sys.path: a script named like a module the app or a library
imports would be found instead of it (bench/reports.py once hid the app's reports package). So
each script answers `--help` (its imports done, nothing measured), and in one more process, with
bench/ first on the path, no script's name is taken elsewhere and each script's module imports
from its file. The scripts start at once, each in its own process (about 1.5 s of imports each).
"""
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
SCRIPTS = sorted(BENCH.glob("*.py"))
TIMEOUT = 120

#: With bench/ first on the path: each script's name must be no other module's (a package of the
#: app, a library, the standard library), and each script's module must import from its file.
IMPORT_EACH = """
import importlib.machinery, importlib.util, sys
root, bench, names = sys.argv[1], sys.argv[2], sys.argv[3:]
elsewhere = [root] + [p for p in sys.path if p not in ("", root, bench)]
sys.path[:0] = [bench, root]
for name in names:
    other = None if name in sys.builtin_module_names else \\
        importlib.machinery.PathFinder.find_spec(name, elsewhere)
    if name in sys.builtin_module_names or other is not None:
        sys.exit(f"bench/{name}.py hides the module {name} ({other and other.origin})")
for name in names:
    spec = importlib.util.spec_from_file_location(name, f"{bench}/{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    assert callable(module.main), name
"""


def docstring_command(script):
    """The command line the script's docstring gives, without its options."""
    text = script.read_text(encoding="utf-8")
    match = re.search(r"^\s+(\.venv/bin/python bench/\S+\.py)", text, re.MULTILINE)
    assert match, f"{script.name}: its docstring shows no `.venv/bin/python bench/…` line"
    command = match[1].split()
    assert command[1] == f"bench/{script.name}", f"{script.name}: its docstring names {command[1]}"
    return [str(ROOT / command[0]), command[1]]


@pytest.fixture(scope="module")
def helps():
    """Each script's `--help`, all started at once: {name: (exit code, output)}."""
    running = {s.name: subprocess.Popen(docstring_command(s) + ["--help"], cwd=ROOT,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True)
               for s in SCRIPTS}
    answers = {}
    for name, process in running.items():
        try:
            output, _ = process.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:  # e.g. no argparse: it measures instead
            process.kill()
            output, _ = process.communicate()
        answers[name] = (process.returncode, output)
    return answers


def test_there_are_bench_scripts():
    assert len(SCRIPTS) >= 10 and BENCH / "checkin.py" in SCRIPTS


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda s: s.name)
def test_runs_with_help_as_its_docstring_says(script, helps):
    code, output = helps[script.name]
    assert code == 0, output[-3000:]
    assert output.startswith("usage:"), output[-3000:]


def test_no_script_hides_a_module_and_each_imports_from_its_file():
    result = subprocess.run([sys.executable, "-c", IMPORT_EACH, str(ROOT), str(BENCH)] +
                            [s.stem for s in SCRIPTS], cwd=ROOT, capture_output=True, text=True,
                            timeout=TIMEOUT)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]


def test_the_profit_bench_runs_at_a_tiny_size(tmp_path):
    """bench/profit.py builds its world at a five-hundredth of the size and measures each
    figure the issue asks for, ending with one JSON line."""
    import json
    result = subprocess.run(docstring_command(BENCH / "profit.py") +
                            ["--scale", "0.002", "--repeat", "1", "--db",
                             str(tmp_path / "bench.db")], cwd=ROOT, capture_output=True,
                            text=True, timeout=TIMEOUT)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["orders"] == 1000 and figures["moves"] >= 4000
    assert all(isinstance(figures[key], float) for key in ("profit_company_s", "event_roi_s",
                                                           "customer_page_p95_ms"))
