"""The package's layout (issue 30): every module imports alone, in a fresh interpreter; the import
graph between the package's modules has no cycle (imports inside functions included, which is
where cycles used to hide); no module uses another module's private names; modules stay small."""
from __future__ import annotations

import ast
import subprocess
import sys

from .conftest import REPO

PACKAGE = REPO / "mfv_utils"
MAX_LINES = 400


def modules() -> dict[str, object]:
    """Dotted name -> path of every module of the package."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(REPO).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _resolve(name: str, level: int, here: str, is_package: bool) -> str:
    if not level:
        return name
    base = here.split(".") if is_package else here.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, name] if name else base)


def from_imports(tree, name: str, path, mods: dict):
    """Every ``from X import a [as b]`` of the package in ``tree``: (module X, a, b or a, X.a a module?)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            target = _resolve(node.module or "", node.level, name, path.name == "__init__.py")
            if target.startswith("mfv_utils"):
                for alias in node.names:
                    yield target, alias.name, alias.asname or alias.name, f"{target}.{alias.name}" in mods


def imports(mods: dict) -> dict[str, set[tuple[str, str | None]]]:
    """Module -> {(imported module, imported name or None)} over every import statement in it."""
    graph = {}
    for name, path in mods.items():
        tree = ast.parse(path.read_text())
        edges = {(a.name, None) for node in ast.walk(tree) if isinstance(node, ast.Import)
                 for a in node.names if a.name.startswith("mfv_utils")}
        edges |= {(f"{target}.{what}", None) if is_module else (target, what)
                  for target, what, _, is_module in from_imports(tree, name, path, mods)}
        graph[name] = edges
    return graph


def test_every_module_imports_alone_in_a_fresh_interpreter():
    """One interpreter per module, forked from a parent that has loaded the third-party libraries
    but no module of the package, so an import that only works after another fails here."""
    names = [m for m in modules() if not m.endswith("__main__")]
    script = (
        "import os, sys, importlib\n"
        "import numpy, torch, matplotlib; matplotlib.use('Agg')\n"
        "bad = []\n"
        f"for name in {names!r}:\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        try:\n"
        "            importlib.import_module(name)\n"
        "        except BaseException as e:\n"
        "            print(f'{name}: {type(e).__name__}: {e}', flush=True); os._exit(1)\n"
        "        os._exit(0)\n"
        "    if os.waitpid(pid, 0)[1]:\n"
        "        bad.append(name)\n"
        "print('FAILED', bad)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().endswith("FAILED []"), proc.stdout[-3000:]
    assert len(names) >= 40


def test_the_import_graph_has_no_cycle():
    mods = modules()
    graph = {m: {t for t, _ in edges if t in mods and t != m} for m, edges in imports(mods).items()}
    state: dict[str, int] = {}
    cycles = []

    def visit(m, stack):
        state[m] = 1
        for t in sorted(graph[m]):
            if state.get(t) == 1:
                cycles.append(" -> ".join([*stack[stack.index(t):], t]))
            elif t not in state:
                visit(t, [*stack, t])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)
    # the graph is real: the API reaches the networks, facets and optimization subpackages
    reach, todo = set(), ["mfv_utils.api"]
    while todo:
        m = todo.pop()
        if m not in reach:
            reach.add(m)
            todo.extend(graph[m])
    assert {"mfv_utils.networks.models", "mfv_utils.facets.algorithm", "mfv_utils.optimization.methods"} <= reach


def test_no_module_uses_another_modules_private_names():
    mods = modules()
    found = []
    for name, path in mods.items():
        tree = ast.parse(path.read_text())
        bound = {}  # local name -> package module it stands for
        for target, what, local, is_module in from_imports(tree, name, path, mods):
            if is_module:
                bound[local] = f"{target}.{what}"
            elif what.startswith("_") and target != name:
                found.append(f"{name} imports {target}.{what}")
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in bound
                    and node.attr.startswith("_") and not node.attr.startswith("__")):
                found.append(f"{name} uses {bound[node.value.id]}.{node.attr}")
    assert not found, "\n".join(found)


def test_modules_stay_small_and_subpackages_name_their_job():
    mods = modules()
    long = {m: n for m, p in mods.items() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"
    subpackages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert {"networks", "data", "facets", "optimization", "attribution", "evaluation", "atlas", "apps",
            "runtime"} <= subpackages
    tests = {p.parent.name for p in (REPO / "tests").glob("*/test_*.py")}
    assert tests <= subpackages | {"notebooks"}, tests - subpackages  # tests laid out like the package
    top = {p.stem for p in PACKAGE.glob("*.py")}
    assert top == {"__init__", "api", "run", "reproduce", "teach", "lab"}, top  # the API and the commands
