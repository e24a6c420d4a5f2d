"""The package's rooms and the one direction imports go: cli -> jobs -> diffusion ->
artifacts -> core (the language: syntax, ast, catalog, template, resolve, ir, settings,
targets, lint, tokens, errors…). Every import is counted, those inside functions too."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "promptlang"
RANK = {"core": 0, "artifacts": 1, "diffusion": 2, "jobs": 3, "cli": 4}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in RANK else "core"


def imports(path: Path) -> set[str]:
    """The promptlang modules a file imports (absolute names), anywhere in it."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("promptlang")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            elif node.module and node.module.startswith("promptlang"):
                target = node.module
            else:
                continue
            # `from . import ir` names a module; `from .ir import X` names names in one
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                found.add(candidate if _exists(candidate) else target)
    return {m for m in found if m != "promptlang"}  # the package root (`__version__`) is everyone's


def _exists(module: str) -> bool:
    rel = Path(*module.split(".")[1:])
    return (PACKAGE / rel).with_suffix(".py").is_file() or (PACKAGE / rel / "__init__.py").is_file()


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py") if "data" not in p.parts}
# the package root (the lazy public API) and `python -m promptlang` stand above every room
GRAPH = {m: imports(p) for m, p in MODULES.items() if m not in ("promptlang", "promptlang.__main__")}


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_imports_point_down(module):
    wrong = [m for m in GRAPH[module] if RANK[room(m)] > RANK[room(module)]]
    assert not wrong, f"{module} ({room(module)}) imports {wrong}, above it"


def test_rooms_exist():
    for name in ("artifacts", "diffusion", "jobs", "cli"):
        assert (PACKAGE / name / "__init__.py").is_file()


def test_no_cycles():
    state, stack, cycles = {}, [], []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for n in sorted(GRAPH.get(m, ())):
            if n not in GRAPH or n == m or n == m.rsplit(".", 1)[0]:
                continue  # a submodule importing its own package's __init__ is not a cycle of ours
            if state.get(n) == "open":
                cycles.append(stack[stack.index(n):] + [n])
            elif n not in state:
                visit(n)
        stack.pop()
        state[m] = "done"

    for m in sorted(GRAPH):
        if m not in state:
            visit(m)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)
