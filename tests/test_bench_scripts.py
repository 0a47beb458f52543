"""Every bench script runs as its docstring says (`.venv/bin/python bench/NAME.py`).

Run that way, bench/ comes first on sys.path: a script named like a module the app or a library
imports would be found instead of it (bench/reports.py once hid the app's reports package). So
each script answers `--help` (its imports done, nothing measured), and in one more process, with
bench/ first on the path, no script's name is taken elsewhere and each script's module imports
from its file. The scripts start at once, each in its own process (about 1.5 s of imports each).

Answering --help is not running: bench/customers.py's export once asserted a 200 the page no
longer gave (a large export became a background run), and bench/crash.py stopped at its seeding
(price authority held its order), with every --help fine. So every script also runs end to end
at a tiny size (TINY: its own small arguments, its own temporary folder), all started at once,
and its last line of output must be JSON holding every figure its docstring names in backticks
(`like_this_p95_ms`). A script that needs PostgreSQL runs when one answers (BENCH_DATABASE_URL,
else the local server, as the script itself looks) and is skipped, saying why, when none does.
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
SCRIPTS = sorted(BENCH.glob("*.py"))
TIMEOUT = 120
#: The tiny runs all together: about 100 CPU seconds in all (1.5–3 minutes on a 2-core machine
#: others load; each script pays ~5 s for its imports and migrations before it builds anything).
TINY_TIMEOUT = 600

#: Each script's tiny size: its arguments ({tmp}: a folder of its own; {port}: a free port).
#: Scripts that can run on PostgreSQL run on SQLite here (no --postgres).
TINY = {
    "checkin.py": ["--customers", "300", "--invitations", "100", "--workers", "1",
                   "--port", "{port}"],
    "crash.py": ["--customers", "10", "--requests", "40", "--clients", "2", "--workers", "1",
                 "--kills", "1", "--seconds", "60"],
    "custody.py": ["--customers", "200", "--entries", "2000", "--pickups", "10", "--views", "10",
                   "--finds", "10"],
    "customers.py": ["--customers", "300", "--queries", "5", "--import-rows", "100"],
    "gifts.py": ["--customers", "300", "--invitations", "60", "--moves", "2000",
                 "--issues", "10"],
    "imports.py": ["--customers", "300", "--points", "100"],
    "inventory.py": ["--moves", "3000", "--products", "20", "--issues", "10"],
    "invitations.py": ["--customers", "100", "--cards", "8"],
    "management.py": ["--customers", "300", "--marketers", "10", "--orders", "500",
                      "--payments", "1000", "--pdf-marketers", "5", "--late", "10",
                      "--home-requests", "5"],
    "messages.py": ["--guests", "50", "--outbox-messages", "2000"],
    "outbox.py": ["--messages", "2000", "--customers", "50", "--marketers", "5",
                  "--repeat", "2"],
    "orders.py": ["--orders", "300", "--payments", "600", "--measured", "20"],
    "points.py": ["--customers", "300", "--entries", "3000", "--redeems", "10",
                  "--balances", "10"],
    "profit.py": ["--scale", "0.002", "--repeat", "1", "--pages", "20", "--db",
                  "{tmp}/bench.db"],
    "report_pdfs.py": ["--customers", "300", "--orders", "300", "--events", "5",
                       "--per-event", "20", "--marketers", "10"],
    "scale.py": ["--build", "--measure", "--scale", "0.001", "--database",
                 "hxt_bench_scale_{port}", "--port", "{port}", "--requests", "3", "--drop"],
    "scheduler.py": ["--customers", "300", "--orders", "300", "--events", "3",
                     "--per-event", "20", "--contacts", "500", "--marketers", "10"],
}
#: Scripts that run only on PostgreSQL (a throwaway database beside this server's).
NEEDS_POSTGRES = {"crash.py", "outbox.py", "scale.py"}
POSTGRES = os.environ.get("BENCH_DATABASE_URL",
                          "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")

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


def docstring_figures(script):
    """The figures the script's docstring promises: the names in backticks that are bare
    identifiers (`find_p95_ms`; not `points.lots`, `--db FILE` or `make run-pg`)."""
    text = script.read_text(encoding="utf-8")
    docstring = re.match(r'\s*"""(.*?)"""', text, re.DOTALL)[1]
    return sorted(set(re.findall(r"(?<!`)`([a-z][a-z0-9_]*)`(?!`)", docstring)))


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def postgres_answers():
    url = make_url(POSTGRES)
    try:
        socket.create_connection((url.host or "127.0.0.1", url.port or 5432), timeout=2).close()
        return True
    except OSError:
        return False


@dataclass
class Run:
    code: int | None = None
    stdout: str = ""
    log: str = ""
    #: Why it did not run (reported as a skip), or "".
    skipped: str = ""


def stop(process):
    """Interrupt a script that ran too long (its `finally` blocks stop what it started), then
    kill it."""
    process.send_signal(signal.SIGINT)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    """Each script at its tiny size, all started at once: {name: Run}. Their temporary files
    (tempfile honours TMPDIR) go into a folder of each one's own."""
    runs, running = {}, {}
    has_postgres = postgres_answers()
    for script in SCRIPTS:
        if script.name not in TINY:
            continue  # the test says so
        if script.name in NEEDS_POSTGRES and not has_postgres:
            runs[script.name] = Run(skipped=f"{script.name} runs only on PostgreSQL and none "
                                            f"answers at {make_url(POSTGRES).host}")
            continue
        folder = tmp_path_factory.mktemp(script.stem)
        arguments = [a.format(tmp=folder, port=free_port()) for a in TINY[script.name]]
        out, log = open(folder / "stdout", "w+"), open(folder / "log", "w+")
        process = subprocess.Popen(docstring_command(script) + arguments, cwd=ROOT,
                                   stdout=out, stderr=log, text=True,
                                   env={**os.environ, "TMPDIR": str(folder)})
        running[script.name] = (process, out, log)
    deadline = time.monotonic() + TINY_TIMEOUT
    for name, (process, out, log) in running.items():
        try:
            process.wait(max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            stop(process)
            log.write(f"\n[stopped after {TINY_TIMEOUT} s]")
        out.seek(0)
        log.seek(0)
        runs[name] = Run(process.returncode, out.read(), log.read())
        out.close()
        log.close()
    return runs


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


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda s: s.name)
def test_runs_at_a_tiny_size_and_ends_with_its_figures(script, tiny_runs):
    assert script.name in TINY, f"{script.name}: give it a tiny size in TINY"
    run = tiny_runs[script.name]
    if run.skipped:
        pytest.skip(run.skipped)
    assert run.code == 0, (run.stdout + run.log)[-3000:]
    last = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else ""
    try:
        figures = json.loads(last)
    except ValueError:
        pytest.fail(f"{script.name}: its last line is not JSON: {last[-500:]!r}")
    promised = docstring_figures(script)
    assert promised, f"{script.name}: its docstring names no figure in backticks"
    assert [name for name in promised if name not in figures] == [], figures


def test_the_customer_export_is_a_background_run_of_every_customer(tiny_runs):
    """bench/customers.py exports as a large export goes (queued, worked by a worker process,
    downloaded from the run's page), even at 300 customers."""
    figures = json.loads(tiny_runs["customers.py"].stdout.strip().splitlines()[-1])
    assert figures["export_rows"] == 300 and figures["export_peak_rss_mb"] > 0


def test_the_profit_bench_builds_its_world_at_a_five_hundredth(tiny_runs):
    """bench/profit.py builds its world at a five-hundredth of the size and measures each
    figure the issue asks for."""
    figures = json.loads(tiny_runs["profit.py"].stdout.strip().splitlines()[-1])
    assert figures["orders"] == 1000 and figures["moves"] >= 4000
    assert all(isinstance(figures[key], float) for key in ("profit_company_s", "event_roi_s",
                                                           "customer_page_p95_ms"))
