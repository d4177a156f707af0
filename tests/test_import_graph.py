"""Domains depend on each other one way only.

Every import in every module of every ``app/<package>`` counts, at module level or inside
a function (an import moved into a function to dodge a cycle is still the cycle). Two
packages that import each other fail the test: one of them should send a signal
(:mod:`app.events`) and let the other react in its ``handlers.py``.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app"
PACKAGES = sorted(p.name for p in APP.iterdir() if (p / "__init__.py").is_file())


def _target_packages(tree: ast.AST, module: str) -> list[tuple[str, int]]:
    """The app packages a module imports from, with the line of each import."""
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                parts = module.split(".")[: -node.level]
                base = ".".join([*parts, base] if base else parts)
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for name in names:
            parts = name.split(".")
            if len(parts) >= 2 and parts[0] == "app" and parts[1] in PACKAGES:
                found.append((parts[1], node.lineno))
    return found


def package_graph() -> dict[tuple[str, str], list[str]]:
    """(importer, imported) -> where, for every import between two app packages."""
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for package in PACKAGES:
        for path in sorted((APP / package).rglob("*.py")):
            relative = path.relative_to(APP.parent).with_suffix("")
            module = ".".join(relative.parts)
            if module.endswith(".__init__"):
                module = module.removesuffix(".__init__") + ".__init__"
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for target, line in _target_packages(tree, module):
                if target != package:
                    edges[(package, target)].append(f"{relative}.py:{line}")
    return edges


def test_the_graph_sees_module_and_function_level_imports() -> None:
    source = (
        "from app.claims import services\n"
        "def f():\n"
        "    from app.points.services import award\n"
        "    import app.notifications.services\n"
        "from app import needs\n"
    )
    targets = {t for t, _line in _target_packages(ast.parse(source), "app.x.y")}
    assert targets == {"claims", "points", "notifications", "needs"}
    relative = _target_packages(ast.parse("from ..points import services\n"), "app.x.y")
    assert {t for t, _line in relative} == {"points"}


def test_no_two_domain_packages_import_each_other() -> None:
    edges = package_graph()
    assert edges, "the graph is empty: the walk found no app packages"
    both_ways = sorted(
        f"{a} <-> {b}: {', '.join(edges[(a, b)][:3])} / {', '.join(edges[(b, a)][:3])}"
        for (a, b) in edges
        if a < b and (b, a) in edges
    )
    assert both_ways == []


def test_no_domain_imports_a_reactor_to_trigger_side_effects() -> None:
    """Points, notifications and the traffic lights only react: domain services and
    models never import them (pages may show what they hold)."""
    reactors = {"points", "notifications", "supervision", "search_index"}
    # Read sides: reports aggregates and exports every domain's records (the points
    # ledger included) and changes none; the demo composes every domain at install time.
    readers = {"reports", "demo"}
    offenders = []
    for package in PACKAGES:
        if package in reactors or package in readers:
            continue
        for path in sorted((APP / package).rglob("*.py")):
            if path.name in {"views.py", "health.py", "metrics.py"}:
                continue  # pages and probes read the ledger, the lights, the inbox, the backlog
            relative = path.relative_to(APP.parent).with_suffix("")
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for target, line in _target_packages(tree, ".".join(relative.parts)):
                if target in reactors:
                    offenders.append(f"{relative}.py:{line} imports app.{target}")
    assert offenders == []
