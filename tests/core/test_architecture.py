"""The house's shape, read from the code: imports point one way, no circle, and one door writes statuses.

syaga.core  ←  invoicing  ←  banking, timetracking, mailbox  ←  reconciliation  ←  syaga (settings, urls)
"""

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ("invoicing", "banking", "timetracking", "mailbox", "reconciliation")
# What each layer may import from the project (besides itself).
ALLOWED = {
    "syaga.core": set(),
    "invoicing": {"syaga.core"},
    "banking": {"syaga.core", "invoicing"},
    "timetracking": {"syaga.core", "invoicing"},
    "mailbox": {"syaga.core", "invoicing"},
    "reconciliation": {"syaga.core", "invoicing", "banking", "timetracking", "mailbox"},
}
PROJECT_ROOTS = ("syaga", *APPS)


def source_files():
    for top in PROJECT_ROOTS:
        for path in sorted((ROOT / top).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer(module: str) -> str:
    if module == "syaga.core" or module.startswith("syaga.core."):
        return "syaga.core"
    return module.split(".")[0]


KNOWN = {module_name(path) for path in source_files()}


def project_imports(path: Path):
    """(imported module, line, inside a function?) for every import of a project module in ``path``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    inside = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for child in ast.walk(node):
                if child is not node:
                    inside.add(id(child))
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    [*package.split(".")[: len(package.split(".")) - node.level + 1], base]
                ).strip(".")
            # "from pkg import module" names the module itself when it is one
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in KNOWN else base for a in node.names]
        for name in names:
            if name.split(".")[0] in PROJECT_ROOTS:
                yield name, node.lineno, id(node) in inside


def test_imports_point_one_way():
    wrong = []
    for path in source_files():
        here = layer(module_name(path))
        if here == "syaga":
            continue  # settings, urls and syaga.ops wire the apps together: the top of the house
        for name, line, _ in project_imports(path):
            there = layer(name)
            if there != here and there not in ALLOWED[here]:
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert wrong == []


def test_no_import_inside_a_function_to_dodge_a_circle():
    hidden = [
        f"{path.relative_to(ROOT)}:{line} imports {name} inside a function"
        for path in source_files()
        for name, line, in_function in project_imports(path)
        if in_function
    ]
    assert hidden == []


def test_no_import_circle():
    graph: dict[str, set[str]] = {}
    for path in source_files():
        module = module_name(path)
        graph.setdefault(module, set())
        for name, _, _ in project_imports(path):
            target = name
            while target not in KNOWN and "." in target:
                target = target.rpartition(".")[0]
            if target in KNOWN and target != module:
                graph[module].add(target)
    # A package importing its own submodules (models/__init__) is how Python packages work, not a circle.
    for module, targets in graph.items():
        graph[module] = {t for t in targets if not module.startswith(t + ".")}
    cycles = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(" → ".join([*stack[stack.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert cycles == []


# Assignments of an invoice status: attribute writes, and status=… handed to a write of Invoice rows.
STATUS_WRITE = re.compile(r"\.status\s*=[^=]|\bupdate\([^)]*\bstatus\s*=|\.create\([^)]*\bstatus\s*=")
STATUS_DOOR = ROOT / "invoicing" / "services" / "lifecycle.py"
NOT_AN_INVOICE = {
    "banking/clients/qonto.py": "the HTTP status of a Qonto API error",
}


def test_no_invoice_status_is_written_outside_the_lifecycle():
    writes = []
    for path in source_files():
        if path == STATUS_DOOR or str(path.relative_to(ROOT)) in NOT_AN_INVOICE:
            continue
        text = path.read_text()
        for number, line in enumerate(text.splitlines(), start=1):
            if STATUS_WRITE.search(line) and "match_status" not in line and "tx." not in line:
                writes.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert writes == []


# With USE_THOUSAND_SEPARATOR an id printed as {{ x.pk }} reads « 1 234 » and breaks its link or form.
PRINTED_ID = re.compile(r"\{\{\s*[\w.]+\.(pk|id|[a-z_]+_id)\s*\}\}")


def test_no_template_prints_an_id_with_a_thousands_separator():
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sorted((ROOT / "templates").rglob("*.html"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if PRINTED_ID.search(line)
    ]
    assert found == []


def test_starting_django_does_not_load_the_heavy_document_libraries():
    # every process (web, worker, each command) pays what start-up imports: the PDF renderer, factur-x and the
    # PDF reader wait for their first use (syaga.core.lazy)
    code = (
        "import django, sys; django.setup(); "
        "print(','.join(m for m in ('weasyprint', 'facturx', 'pypdf') if m in sys.modules))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "syaga.settings"}
    loaded = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == ""
