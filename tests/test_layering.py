"""The core package knows problems, backends and agents only through its registries.

``archgym/`` (core) may not import ``archgym.simulators`` or ``archgym.agents``
(the plug-in packages) anywhere, not even inside a function: it reaches them
through lazy ``"module:attr"`` registry entries. The plug-in packages may
import core freely.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[1] / "archgym"
PLUGIN_PACKAGES = ("archgym.simulators", "archgym.agents")


def _imports(path: Path, package: str | None = None) -> list[tuple[int, str]]:
    """Every module ``path`` imports, with its line, relative imports resolved against ``package``."""
    package = package or ".".join(("archgym", *path.relative_to(CORE).parent.parts))
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found += [(node.lineno, f"{base}.{alias.name}" if alias.name != "*" else base) for alias in node.names]
    return found


def _core_modules() -> list[Path]:
    return sorted(CORE.rglob("*.py"))


def test_the_walk_sees_the_core_package():
    names = {p.relative_to(CORE).as_posix() for p in _core_modules()}
    assert {"problem.py", "cost_model.py", "agent.py", "runner.py"} <= names


@pytest.mark.parametrize("path", _core_modules(), ids=lambda p: p.relative_to(CORE).as_posix())
def test_core_does_not_import_plugin_packages(path: Path):
    violations = [
        f"{path.relative_to(CORE.parent)}:{line} imports {module}"
        for line, module in _imports(path)
        if any(module == p or module.startswith(p + ".") for p in PLUGIN_PACKAGES)
    ]
    assert not violations, (
        "core imports a plug-in package; go through a registry with a lazy 'module:attr' entry instead:\n"
        + "\n".join(violations)
    )


def test_the_check_catches_a_violation(tmp_path):
    source = tmp_path / "bad.py"
    source.write_text("import numpy\n\ndef f():\n    from ..simulators.dram import knobs\n    import archgym.agents.ga\n")
    modules = [module for _, module in _imports(source, package="archgym.envs")]
    assert modules == ["numpy", "archgym.simulators.dram.knobs", "archgym.agents.ga"]
