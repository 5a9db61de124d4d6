"""The package's floors (igan_lite/__init__.py): every import of igan_lite by igan_lite, at module level, inside a
function or under TYPE_CHECKING, points to the same floor or one below, and no modules import each other in a
circle, but for the one declared type-only pair in core/. And what importing a module loads, measured."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "igan_lite"
FLOORS = {"": 0, "presets": 0, "preset_rules": 0, "infra": 0, "core": 1, "render": 2, "data": 3, "training": 4,
          "evaluation": 5, "experiments": 6, "notebook": 7, "cli": 8}
# steps.Parts names the method table's Method; the table names the steps: the type needs no import at run time
TYPE_ONLY = {("igan_lite.core.steps", "igan_lite.core.methods")}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def floor(module: str) -> int:
    parts = module.split(".")
    return FLOORS[parts[1] if len(parts) > 1 else ""]


def imports(module: str) -> list[tuple[str, bool, int]]:
    """(imported igan_lite module, under TYPE_CHECKING, line) for every import statement in `module`."""
    path = MODULES[module]
    tree = ast.parse(path.read_text())
    type_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
                 for n in ast.walk(node)}
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        found += [(t, id(node) in type_only, node.lineno) for t in targets if t.split(".")[0] == "igan_lite"]
    return found


def test_every_import_points_to_the_same_floor_or_below():
    upward = [f"{m}:{line} imports {t} (floor {floor(t)} above {floor(m)})"
              for m in MODULES for t, _, line in imports(m) if floor(t) > floor(m)]
    assert not upward, "\n".join(upward)


def test_no_import_cycle_of_any_kind():
    graph = {m: {t for t, type_only, _ in imports(m) if t != m and (m, t) not in TYPE_ONLY} for m in MODULES}
    for m, t in TYPE_ONLY:  # the declared pair really is type-only
        assert all(type_only for target, type_only, _ in imports(m) if target == t), f"{m} imports {t} at run time"
    state, cycles = {}, []

    def visit(m, path):
        state[m] = "open"
        for t in sorted(graph.get(m, ())):
            if state.get(t) == "open":
                cycles.append(" -> ".join(path[path.index(t):] + [t]))
            elif t not in state:
                visit(t, path + [t])
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert not cycles, "\n".join(cycles)


def test_the_method_and_the_bottom_floor_import_nothing_above_them():
    for m in MODULES:
        if floor(m) <= 1:
            above = [t for t, _, _ in imports(m) if floor(t) > (0 if floor(m) == 0 else 1)]
            assert not above, f"{m} imports {above}"
    for m in MODULES:
        if m.startswith("igan_lite.infra"):
            assert not imports(m), f"{m} is the bottom floor and imports {imports(m)}"


def loaded_by(module: str) -> set[str]:
    code = f"import sys, {module}; print(' '.join(m for m in sys.modules if m.startswith('igan_lite')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(out.split())


@pytest.mark.parametrize("module, never", [
    ("igan_lite.data.datasets", ("igan_lite.core.steps", "igan_lite.core.nets", "igan_lite.core.losses", "igan_lite.training")),
    ("igan_lite.experiments.results_table", ("igan_lite.training", "igan_lite.render", "igan_lite.evaluation", "igan_lite.core")),
    ("igan_lite.core.methods", ("igan_lite.render", "igan_lite.data", "igan_lite.training")),
])
def test_importing_a_module_loads_only_what_it_needs(module, never):
    loaded = loaded_by(module)
    assert not [m for m in loaded if m.startswith(never)], f"{module} loads {sorted(loaded)}"
