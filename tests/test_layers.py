"""The areas of models/ import each other one way only (DESIGN §3 Layers).

Every import in models/ — at the top of a module or inside a function, read from the source —
is an edge from the area it is written in to the area it names; the graph of areas has no
cycle. An area is a module or package right under models/ (models/custody/ is one area,
models/door.py another). `lint-imports` (.importlinter, run by `make test`) checks the layers
themselves; this test also sees the imports Python would only run later, inside a function,
and each of those must say why in a comment.
"""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"


def module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


#: The areas: every module and package right under models/.
AREAS = {f"models.{path.stem}" for path in MODELS.iterdir()
         if (path.suffix == ".py" and path.stem != "__init__") or (path / "__init__.py").exists()}


def area_of(module):
    """models.custody.operations → models.custody; models.door → models.door."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "models" and len(parts) > 1 else None


def imported_modules(node, module, is_package):
    """The modules an import statement names (`from models import custody` names
    models.custody, not the models package)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        package = module.split(".") if is_package else module.split(".")[:-1]
        package = package[:len(package) - node.level + 1]
        base = ".".join(package + ([base] if base else []))
    return [f"{base}.{alias.name}" for alias in node.names] + [base]


def imports_in(path):
    """[(line, imported module, inside a function?)] of one source file."""
    module = module_name(path)
    found = []

    def walk(node, in_function):
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                      ast.Lambda))
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                for name in imported_modules(child, module, path.name == "__init__.py"):
                    found.append((child.lineno, name, in_function))
            walk(child, inner)

    walk(ast.parse(path.read_text(encoding="utf-8")), False)
    return found


def area_graph():
    """{area: {imported area: [where, ...]}} over every module of models/ but the package
    itself (models/__init__.py imports every area to complete the metadata)."""
    graph = {}
    for path in sorted(MODELS.rglob("*.py")):
        source = area_of(module_name(path))
        if source is None:
            continue
        edges = graph.setdefault(source, {})
        for line, name, _in_function in imports_in(path):
            target = area_of(name)
            if target in AREAS and target != source:
                edges.setdefault(target, []).append(f"{path.relative_to(ROOT)}:{line}")
    return graph


def cycles(graph):
    """The strongly connected groups of more than one area (Tarjan), each sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, {}):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_areas_of_models_import_each_other_one_way_only():
    graph = area_graph()
    assert {"models.checkin", "models.orders", "models.custody", "models.points",
            "models.gifts", "models.tasks", "models.door", "models.referrals"} <= set(graph)
    assert "models.customers" in graph["models.custody"]  # the walk sees the imports
    found = cycles(graph)
    report = [" → ".join(group) + ": " + "; ".join(
        f"{a} imports {b} at {graph[a][b][0]}" for a in group for b in group
        if b in graph[a]) for group in found]
    assert found == [], "\n".join(report)


def test_the_walk_finds_a_cycle():
    """The check above can fail: a cycle of three areas, and one through a function."""
    assert cycles({"a": {"b": []}, "b": {"c": []}, "c": {"a": []}, "d": {"a": []}}) == \
        [["a", "b", "c"]]
    assert cycles({"a": {"b": []}, "b": {}}) == []
    assert area_of("models.custody.operations") == "models.custody"
    assert imported_modules(ast.parse("from models import custody as cu").body[0],
                            "models.points", False)[0] == "models.custody"
    assert imported_modules(ast.parse("from .tables import Task").body[0],
                            "models.tasks.worklist", False)[0] == "models.tasks.tables.Task"


@pytest.mark.parametrize("folder", ["models", "jobs"])
def test_an_import_inside_a_function_says_why(folder):
    """An import runs where it is written only when a comment on the line, or just above it,
    says why it is not at the top of the module (DESIGN §3: never to dodge a circle)."""
    silent = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for line, _name, in_function in imports_in(path):
            text, above = lines[line - 1], lines[line - 2].strip() if line > 1 else ""
            if in_function and "#" not in text and not above.startswith("#"):
                silent.append(f"{path.relative_to(ROOT)}:{line}")
    assert sorted(set(silent)) == []


def test_the_company_day_and_the_lunar_calendar_have_one_home_each():
    """models/clock.py is the only module of models/ that turns moments into company days (the
    zone from formatting) or writes a document number; models/customers/birthdays.py the only
    one that reads the lunar calendar."""
    day_or_number = ("company_zone", "%Y%m%d}-", "datetime.combine(")
    elsewhere = {str(path.relative_to(ROOT)): [word for word in day_or_number
                                                if word in path.read_text(encoding="utf-8")]
                 for path in MODELS.rglob("*.py") if path.name != "clock.py"}
    # custody.not_collected counts its days from midnight UTC, not from the company's midnight:
    # kept as it is (a reminder would move by a night), named here so it is not copied.
    assert {path: words for path, words in elsewhere.items() if words} == \
        {"models/custody/reads.py": ["datetime.combine("]}
    lunar = [str(path.relative_to(ROOT)) for path in MODELS.rglob("*.py")
             if "lunar_python" in path.read_text(encoding="utf-8")]
    assert lunar == ["models/customers/birthdays.py"]
