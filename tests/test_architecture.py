"""The house stays as built (docs/architecture.md): every module's imports, read with ``ast``,
point down the layers; no two modules import each other, even lazily; the front ends reach
the toolkit through ``migration_kit.api``; no module imports another module's private names.

Imports under ``if TYPE_CHECKING:`` are left out: they never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import migration_kit

ROOT = Path(migration_kit.__file__).parent

# Lowest first. A module may import its own layer's modules and the layers below it, never
# one above; a layer is a top-level module or package of migration_kit.
LAYERS = [
    "errors", "jsonio", "crash", "definitions", "resources", "values", "formula", "db",
    "erp", "providers", "workspace", "catalog", "scenarios", "guard", "report", "engine",
    "api", "runbook", "demo", "cli", "widgets",
]
FRONT_ENDS = {"cli", "widgets"}
# What a front end may import besides migration_kit.api: facts and plain helpers.
FRONT_END_MAY_IMPORT = {"api", "errors", "jsonio", "workspace", "crash", "runbook", "demo",
                        "widgets"}


def _module_name(path: Path) -> str:
    parts = ["migration_kit", *path.relative_to(ROOT).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def _nodes(tree: ast.AST):
    """Every node, except what sits under ``if TYPE_CHECKING:``."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            for other in node.orelse:
                yield other
                yield from _nodes(other)
            continue
        yield node
        yield from _nodes(node)


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module if MODULES[module].name == "__init__.py" else module.rsplit(".", 1)[0]
    base = package.split(".")[: len(package.split(".")) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def imports(module: str) -> list[tuple[str, list[str], int]]:
    """(imported migration_kit module, names taken from it, line) for each import."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    out = []
    for node in _nodes(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, [], node.lineno) for a in node.names
                    if a.name.startswith("migration_kit")]
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, node)
            if not target.startswith("migration_kit"):
                continue
            names = []
            for a in node.names:
                sub = f"{target}.{a.name}"
                if sub in MODULES:  # `from . import history`: the module itself
                    out.append((sub, [], node.lineno))
                else:
                    names.append(a.name)
            if names:
                out.append((target, names, node.lineno))
    return out


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_every_module_has_a_layer():
    unknown = sorted({_layer(m) for m in MODULES} - set(LAYERS) - {""})
    assert not unknown, f"add these to LAYERS (and docs/architecture.md): {unknown}"


def test_imports_point_down_the_layers():
    rank = {name: i for i, name in enumerate(LAYERS)}
    breaches = []
    for module in MODULES:
        if module == "migration_kit":
            continue
        for target, _names, line in imports(module):
            if target == "migration_kit":
                continue
            src, dst = _layer(module), _layer(target)
            if rank[dst] > rank[src]:
                breaches.append(f"{module} (line {line}, {src}) imports {target} ({dst}), "
                                "a layer above it")
    assert not breaches, "\n".join(breaches)


def test_front_ends_go_through_the_api():
    breaches = [f"{module} (line {line}) imports {target}: go through migration_kit.api"
                for module in MODULES if _layer(module) in FRONT_ENDS
                for target, _names, line in imports(module)
                if target != "migration_kit" and _layer(target) not in FRONT_END_MAY_IMPORT]
    assert not breaches, "\n".join(breaches)


def test_no_import_cycles():
    graph = {m: {t for t, _n, _l in imports(m) if t in MODULES and t != m} for m in MODULES}
    # a package's __init__ importing its own modules is how a package shows its contents
    for m in graph:
        graph[m] = {t for t in graph[m] if not (MODULES[m].name == "__init__.py"
                                                and t.startswith(m + "."))}
    cycles, state = [], dict.fromkeys(graph, 0)  # 0 new, 1 on the path, 2 done

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for t in sorted(graph[m]):
            if state[t] == 1:
                cycles.append(" -> ".join(path[path.index(t):] + [t]))
            elif state[t] == 0:
                visit(t, [*path, t])
        state[m] = 2

    for m in sorted(graph):
        if state[m] == 0:
            visit(m, [m])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_no_private_names_of_other_modules():
    found = []
    for module in MODULES:
        for target, names, line in imports(module):
            if target != module:
                found += [f"{module} (line {line}) imports {target}.{n}" for n in names
                          if n.startswith("_") and not n.startswith("__")]
    assert not found, "\n".join(found)


def test_the_architecture_page_names_every_layer():
    text = (ROOT.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    missing = [name for name in LAYERS if f"`{name}" not in text]
    assert not missing, f"docs/architecture.md does not describe {missing}"
