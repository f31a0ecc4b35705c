"""The floors of ournn: every import in ``src/ournn`` (at module level and inside functions)
points down, to a lower floor, except the one declared exception. See docs/design.md.

A package may import its own modules and any package on a lower floor. Packages on the same
floor do not import each other, except on the core floor (``tensor``, ``autograd``, ``ops``,
``functions`` are one unit: a tensor's methods call ops, ops make tensors, the engine runs
their backward) and the pairs listed in ``SAME_FLOOR``.
"""
import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "ournn"

# Bottom to top. "ournn" is the package's own __init__ (the facade of ``import ournn``).
FLOORS = [
    {"errors"},
    {"backend", "device", "files"},        # files: atomic writes, temporary files, TOML, LIMITS
    {"random"},
    {"tensor", "autograd", "ops", "functions", "legacy"},   # the core: one unit (see CORE)
    {"distributed"},                       # process groups over MPI; collectives on tensors
    {"tracing"},
    {"nn", "data"},
    {"optim", "io", "models", "utils", "onnx"},
    {"viz"},
    {"train"},
    {"tune"},
    {"studio"},
    {"cli", "ournn"},
]
CORE = {"tensor", "autograd", "ops", "functions", "legacy"}
SAME_FLOOR = {("cli", "ournn")}           # ``ournn --version`` reads ournn.__version__

# The one declared exception: Module's Keras-style conveniences call the training engine
# and the summary, importing them inside the method (never at module level).
EXCEPTION_FILE = "nn/module.py"
EXCEPTION_FUNCTIONS = {"Module.fit": {"train"}, "Module.evaluate": {"train"},
                       "Module.predict": {"train"}, "Module.summary": {"viz"}}

FLOOR_OF = {package: i for i, floor in enumerate(FLOORS) for package in floor}


def module_name(path):
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def is_module(dotted):
    """Whether ``ournn.a.b`` names a module or package under src/ournn."""
    rel = Path(*dotted.split(".")[1:]) if "." in dotted else Path()
    base = SRC / rel
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def package_of(dotted):
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 else "ournn"


class _Imports(ast.NodeVisitor):
    """Every ``ournn`` module imported by one file, with its line and enclosing function."""

    def __init__(self, module, is_package):
        self.module, self.is_package = module, is_package
        self.scope = []
        self.found = []          # (line, "Class.function" or "", imported module)

    def _scoped(self, node):
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _scoped

    def _add(self, node, target):
        if target == "ournn" or target.startswith("ournn."):
            self.found.append((node.lineno, ".".join(self.scope), target))

    def visit_Import(self, node):
        for alias in node.names:
            self._add(node, alias.name)

    def visit_ImportFrom(self, node):
        if node.level:
            base = self.module.split(".")
            if not self.is_package:
                base = base[:-1]
            base = base[:len(base) - (node.level - 1)]
            source = ".".join(base + ([node.module] if node.module else []))
        else:
            source = node.module
        for alias in node.names:       # ``from pkg import submodule`` imports the submodule
            candidate = f"{source}.{alias.name}"
            self._add(node, candidate if is_module(candidate) else source)


def all_imports():
    """(file relative to src/ournn, line, enclosing function, from package, to package)."""
    rows = []
    for path in sorted(SRC.rglob("*.py")):
        visitor = _Imports(module_name(path), path.name == "__init__.py")
        visitor.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        here = package_of(visitor.module)
        for line, function, target in visitor.found:
            there = package_of(target)
            if there != here:
                rows.append((path.relative_to(SRC).as_posix(), line, function, here, there))
    return rows


def allowed(here, there):
    if FLOOR_OF[there] < FLOOR_OF[here]:
        return True
    if FLOOR_OF[there] == FLOOR_OF[here]:
        return (here in CORE and there in CORE) or (here, there) in SAME_FLOOR
    return False


def is_declared_exception(file, function, there):
    return file == EXCEPTION_FILE and there in EXCEPTION_FUNCTIONS.get(function, ())


def test_every_package_has_a_floor():
    packages = {package_of(module_name(p)) for p in SRC.rglob("*.py")}
    missing = sorted(packages - set(FLOOR_OF))
    assert not missing, f"packages on no floor (add them to FLOORS and docs/design.md): {missing}"


def test_the_parser_sees_imports_inside_functions():
    rows = all_imports()
    assert ("nn/module.py", "Module.fit", "nn", "train") in {r[0:1] + r[2:] for r in rows}
    assert any(r[0] == "optim/optimizer.py" and r[4] == "nn" for r in rows)


def test_imports_point_down():
    bad = [f"{file}:{line} ({function or 'module level'}): {here} -> {there}"
           for file, line, function, here, there in all_imports()
           if not allowed(here, there) and not is_declared_exception(file, function, there)]
    assert not bad, "imports that point up or sideways:\n" + "\n".join(bad)


def test_the_declared_exception_is_used_only_inside_its_methods():
    rows = [r for r in all_imports() if r[0] == EXCEPTION_FILE and not allowed(r[3], r[4])]
    assert rows, "the exception is no longer used: remove it from this test and design.md"
    for file, line, function, here, there in rows:
        assert function in EXCEPTION_FUNCTIONS, f"{file}:{line}: {here} -> {there} outside " \
                                                "Module.fit/evaluate/predict/summary"


@pytest.mark.parametrize("module", ["files", "errors", "backend"])
def test_ground_floor_imports_nothing_above_it(module):
    for file, line, function, here, there in all_imports():
        if here == module:
            assert FLOOR_OF[there] < FLOOR_OF[here], f"{file}:{line}: {here} -> {there}"


def module_graph():
    """``{module: {modules it imports}}`` over src/ournn, imports inside functions included,
    without the declared exception's arrows."""
    graph = {}
    for path in sorted(SRC.rglob("*.py")):
        visitor = _Imports(module_name(path), path.name == "__init__.py")
        visitor.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        file = path.relative_to(SRC).as_posix()
        edges = graph.setdefault(visitor.module, set())
        for _, function, target in visitor.found:
            while not is_module(target):
                target = target.rsplit(".", 1)[0]
            if target != visitor.module and not is_declared_exception(
                    file, function, package_of(target)):
                edges.add(target)
    return graph


def import_circles(graph):
    """The groups of modules that import each other, directly or around a circle."""
    order, low, stack, on_stack, circles = {}, {}, [], set(), []

    def visit(v):                  # Tarjan's strongly connected components
        order[v] = low[v] = len(order)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in order:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], order[w])
        if low[v] == order[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                circles.append(sorted(group))

    for v in sorted(graph):
        if v not in order:
            visit(v)
    return circles


def test_import_circles_are_found():
    assert import_circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_imports_itself_around_a_circle():
    """Not even through imports inside functions: a circle means two modules need each other,
    and one of them belongs elsewhere (the declared exception aside)."""
    assert import_circles(module_graph()) == []
