"""The package's rooms stand on floors: a room imports only from rooms below it.

Every import counts, those made only for type checking too. A new arrow
upward (the home reading the assistant, a door reaching into the service)
or a cycle between modules fails here, with the arrow named.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "rk_assist"

#: Each room's floor; a room may import from rooms on lower floors only (and from itself).
FLOORS = {
    "rk_assist": 0,  # the package itself: its version and one helper
    "errors": 0,
    "defaults": 0,
    "core": 1,  # the ctypes binding of librkllmrt.so
    "runtimes": 2,  # llama.cpp, RKLLM, the worker thread
    "output": 3,  # what the model wrote: speech and calls
    "home": 4,  # the home, its intents, Home Assistant's sentences
    "assistant": 5,  # one voice turn
    "config": 6,  # the options the service starts with
    "connection_budget": 6,  # what both doors share: how many connections each peer may hold
    "models": 7,  # the model library and the choice of model, runtime and context
    "stack": 8,  # model, worker and assistant wired from a configuration
    "wyoming": 9,  # the doors
    "http": 9,
    "service": 10,
    "addon": 11,
    "tools": 11,  # the commands around the product
    "__main__": 12,
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that ``name`` imports, anywhere in it."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            wanted = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            wanted = [f"{base}.{alias.name}" for alias in node.names]
            wanted = [w if w in modules else base for w in wanted]
        else:
            continue
        for target in wanted:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                targets.add(target)
    return targets


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _arrows() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def test_every_room_has_a_floor():
    rooms = {_room(module) for module in _modules()}
    assert rooms - FLOORS.keys() == set(), "give the new room a floor in FLOORS"


def test_no_room_imports_from_a_higher_or_equal_floor():
    upward = sorted(
        f"{module} -> {target}"
        for module, targets in _arrows().items()
        for target in targets
        if _room(module) != _room(target)
        and FLOORS.get(_room(target), 99) >= FLOORS.get(_room(module), 99)
    )
    assert upward == []


def test_no_import_cycle_between_modules():
    arrows = _arrows()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> None:  # Tarjan's strongly connected components
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in arrows.get(module, ()):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in arrows:
        if module not in index:
            visit(module)
    assert cycles == []


def test_the_checks_see_an_upward_arrow(tmp_path):
    """The import reader itself: a relative import one floor up is read as such."""
    module = tmp_path / "probe.py"
    module.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from ..assistant.pipeline import Assistant\n"
        "from . import model\n"
    )
    modules = {"rk_assist.home.model": module, "rk_assist.assistant.pipeline": module}
    found = _imports("rk_assist.home.probe", module, modules)
    assert found == {"rk_assist.assistant.pipeline", "rk_assist.home.model"}
    assert FLOORS[_room("rk_assist.assistant.pipeline")] > FLOORS[_room("rk_assist.home.probe")]
