"""The layout shows the design, and a test keeps it so.

- Arrows point one way (api -> registry -> core; model/ never imports the API; the service never
  imports training code) and no modules import each other in a cycle: import-linter's contracts in
  pyproject.toml, checked here as ``make lint`` checks them.
- No code reads a private attribute or private module of a library (``booster._handle``,
  ``sklearn.utils._x``): the next release may change it without notice. Our own objects may read
  their own private state through ``self`` / ``cls``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.helpers import PROJECT_ROOT

CODE_FOLDERS = ("lambda_fn", "model", "infra", "scripts", "tests")


def python_files() -> list[Path]:
    return sorted(path for folder in CODE_FOLDERS for path in (PROJECT_ROOT / folder).rglob("*.py"))


def private_uses(source: str) -> list[str]:
    """``obj._name`` on anything but self/cls, and imports of ``pkg._module`` outside our own packages."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            owner = node.value
            if not (isinstance(owner, ast.Name) and owner.id in {"self", "cls"}):
                found.append(f"line {node.lineno}: .{node.attr}")
        elif isinstance(node, ast.ImportFrom | ast.Import):
            modules = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            for module in modules:
                parts = module.split(".")
                if parts[0] not in CODE_FOLDERS and any(p.startswith("_") and not p.startswith("__") for p in parts):
                    found.append(f"line {node.lineno}: import {module}")
    return found


def test_no_code_reads_private_attributes_or_modules_of_a_library():
    offenders = {str(path.relative_to(PROJECT_ROOT)): uses for path in python_files()
                 if (uses := private_uses(path.read_text()))}

    assert offenders == {}


def test_the_check_itself_finds_private_access():
    assert sorted(private_uses("x = booster._handle\nfrom sklearn.utils._param_validation import y\n")) == [
        "line 1: ._handle", "line 2: import sklearn.utils._param_validation"]
    assert private_uses("self._cache = 1\nvalue = cls._registry\nname = obj.__class__\n") == []


def test_import_contracts_hold():
    lint_imports = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint_imports)], cwd=PROJECT_ROOT, capture_output=True, text=True)

    declared = (PROJECT_ROOT / "pyproject.toml").read_text().count("[[tool.importlinter.contracts]]")
    assert done.returncode == 0, done.stdout[-3000:]
    assert f"Contracts: {declared} kept, 0 broken." in done.stdout
