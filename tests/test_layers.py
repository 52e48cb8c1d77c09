"""The package's imports point one way: from the command line and the service down to the
book, the speech and the files.  Read from the source, so a new import that points up
(or closes a circle) fails here rather than as an ImportError in one start-up path."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "daemon"

# Lowest first; a layer may import only the layers before it.  Top-level modules and
# packages alike (README, "How it works").
LAYERS = (
    "errors", "files", "console", "notify", "models", "book", "speech", "audio", "settings", "config",
    "synth", "converter", "job_life", "status", "mailbox", "watcher", "api", "service", "cli",
    "__main__",
)


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _run_time_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node but those under ``if TYPE_CHECKING:`` (names for annotations only)."""
    skipped = {id(child) for node in ast.walk(tree) if isinstance(node, ast.If)
               and getattr(node.test, "id", getattr(node.test, "attr", None)) == "TYPE_CHECKING"
               for stmt in node.body for child in ast.walk(stmt)}
    return [node for node in ast.walk(tree) if id(node) not in skipped]


def _imports(path: Path) -> set[str]:
    """Every daemon module ``path`` imports when it runs, at the top or inside a function."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _run_time_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # "from daemon.book import covers" imports the module daemon.book.covers
            found.update(f"{module}.{alias.name}" for alias in node.names)
            found.add(module)
    return {module for module in found if module.split(".")[0] == "daemon"}


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


def test_every_module_belongs_to_a_layer():
    unplaced = sorted(_module_name(path) for path in PACKAGE.rglob("*.py")
                      if _module_name(path) != "daemon" and _layer(_module_name(path)) is None)
    assert not unplaced, f"add these to LAYERS (and to the package map in the README): {unplaced}"


def test_no_layer_imports_one_above_it():
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        own = _layer(_module_name(path))
        for imported in sorted(_imports(path)):
            other = _layer(imported)
            if own and other and LAYERS.index(other) > LAYERS.index(own):
                upward.append(f"{_module_name(path)} -> {imported}")
    assert not upward, "imports that point up:\n" + "\n".join(upward)


def test_no_modules_import_each_other_in_a_circle():
    graph = {_module_name(path): {m for m in _imports(path) if (PACKAGE.parent / (m.replace(".", "/") + ".py")).exists()}
             for path in PACKAGE.rglob("*.py")}
    state: dict[str, int] = {}
    circles: list[str] = []

    def visit(module: str, trail: list[str]) -> None:
        state[module] = 1
        for other in sorted(graph.get(module, ())):
            if state.get(other) == 1:
                circles.append(" -> ".join(trail[trail.index(other):] + [other]) if other in trail else other)
            elif other not in state:
                visit(other, trail + [other])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not circles, "modules that import each other:\n" + "\n".join(circles)


def test_no_module_is_longer_than_a_reader_can_hold():
    long = {_module_name(p): n for p in PACKAGE.rglob("*.py") if (n := len(p.read_text().splitlines())) > 560}
    assert not long, f"split these by concern: {long}"
