"""The layers of the house: each package imports only the ones below it, and no cycles.

    firmware_protocol   detector        (import nothing of ours)
            \\           /
             recordings                 (the on-disk formats: both of the above)
                 |
              emulator                  (firmware, night model, BLE peripheral)
                 |
             nightcramp                 (recorder, log, summary, CLI: everything)

Read from the source with :mod:`ast`, so an import hidden inside a function counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
OURS = ("firmware_protocol", "detector", "recordings", "emulator", "nightcramp", "benchmarks")
ALLOWED: dict[str, set[str]] = {
    "firmware_protocol": set(),
    "detector": set(),
    "recordings": {"detector", "firmware_protocol"},
    "emulator": {"detector", "firmware_protocol", "recordings"},
    "nightcramp": {"detector", "firmware_protocol", "recordings", "emulator"},
}


def _imports(path: Path) -> set[str]:
    """Top-level names of our packages that ``path`` imports (anywhere in the module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for n in names:
            top = n.split(".")[0]
            if top in OURS:
                out.add(top)
    return out


def _modules(pkg: str) -> list[Path]:
    return sorted((REPO / pkg).rglob("*.py"))


@pytest.mark.parametrize("pkg", list(ALLOWED))
def test_package_imports_only_layers_below(pkg: str) -> None:
    mods = _modules(pkg)
    assert mods, f"{pkg} has no modules"
    bad = {
        str(m.relative_to(REPO)): sorted(_imports(m) - ALLOWED[pkg] - {pkg})
        for m in mods
        if _imports(m) - ALLOWED[pkg] - {pkg}
    }
    assert not bad, f"{pkg} imports layers it may not: {bad}"


def test_no_import_cycles_between_modules() -> None:
    """Module-level imports among our modules form no cycle (lazy imports excluded)."""
    graph: dict[str, set[str]] = {}
    for pkg in ALLOWED:
        for m in _modules(pkg):
            name = ".".join(m.relative_to(REPO).with_suffix("").parts)
            name = name.removesuffix(".__init__")
            deps: set[str] = set()
            for node in ast.parse(m.read_text(encoding="utf-8")).body:
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    if node.module.split(".")[0] in ALLOWED:
                        deps.add(node.module)
                elif isinstance(node, ast.Import):
                    deps |= {a.name for a in node.names if a.name.split(".")[0] in ALLOWED}
            graph[name] = deps
    # an import of a package counts as an import of its __init__ only
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> None:
        state[n] = 1
        stack.append(n)
        for d in graph.get(n, ()):
            if d == n or n.startswith(d + "."):
                continue  # a submodule importing its own package's __init__
            if state.get(d) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(d):] + [d]))
            if d in graph and state.get(d) is None:
                visit(d)
        stack.pop()
        state[n] = 2

    for n in sorted(graph):
        if state.get(n) is None:
            visit(n)


def test_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    """The checker itself: a lazy app import inside a function is found."""
    f = tmp_path / "m.py"
    f.write_text("def f():\n    from nightcramp.cramplog import CrampLog\n    import recordings.edf\n")
    assert _imports(f) == {"nightcramp", "recordings"}


def test_tests_do_not_importorskip_our_modules() -> None:
    for t in sorted((REPO / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(t.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", None) == "importorskip"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                top = str(node.args[0].value).split(".")[0]
                assert top not in OURS, f"{t.name} importorskips {node.args[0].value}"


def test_tests_mirror_the_packages_and_do_not_import_each_other() -> None:
    """Tests live in a folder named after the package they test (the repo-wide checks stay
    at the top), and no test module imports another."""
    tests = REPO / "tests"
    top = {p.name for p in tests.glob("test_*.py")}
    assert top <= {"test_layering.py", "test_readme.py", "test_golden.py"}, top
    for sub in sorted(p for p in tests.iterdir() if p.is_dir() and any(p.glob("test_*.py"))):
        assert sub.name in ALLOWED or sub.name == "benchmarks", f"tests/{sub.name}/ names no package"
    names = {p.stem for p in tests.rglob("test_*.py")}
    for t in sorted(tests.rglob("test_*.py")):
        for node in ast.walk(ast.parse(t.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                mods = [node.module]
            elif isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            else:
                continue
            for mod in mods:
                assert mod.split(".")[-1] not in names, f"{t.name} imports the test {mod}"
