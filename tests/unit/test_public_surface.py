"""The public surface, pinned (as httpx does): what one package imports from another is listed
in that module's `__all__`, and the exception tree drawn in `workflow/errors.py` names every
Fidelis error."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re

import workflow
from tests.unit.test_architecture import ROOT, _modules
from workflow.errors import FidelisError

SUBPACKAGES = ("workflow.cli", "workflow.web", "workflow.documents", "workflow.reports",
               "workflow.imports")  # fmt: skip


def package_of(module: str) -> str:
    """`jobs`, one of SUBPACKAGES, or `workflow` (its top-level modules)."""
    if module.startswith("jobs"):
        return "jobs"
    return next((p for p in SUBPACKAGES if module == p or module.startswith(p + ".")), "workflow")


def cross_package_imports() -> list[tuple[str, str, str]]:
    """(importer, module, name) for every `from module import name` across packages."""
    modules = _modules()
    found = []
    for importer, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom) or node.level or node.module not in modules:
                continue
            if package_of(importer) == package_of(node.module):
                continue
            for alias in node.names:
                if f"{node.module}.{alias.name}" not in modules:  # a submodule is public
                    found.append((importer, node.module, alias.name))
    return found


def test_what_a_package_imports_from_another_is_in_its_all() -> None:
    imports = cross_package_imports()
    assert len(imports) > 100  # the walk found the imports
    missing = sorted(
        f"{importer}: {module}.{name}"
        for importer, module, name in imports
        if name not in getattr(importlib.import_module(module), "__all__", ())
    )
    assert missing == []


def _all_subclasses(cls: type) -> set[type]:
    out = set()
    for sub in cls.__subclasses__():
        out |= {sub, *_all_subclasses(sub)}
    return out


def test_the_exception_tree_names_every_fidelis_error() -> None:
    for info in pkgutil.walk_packages(workflow.__path__, "workflow."):
        importlib.import_module(info.name)
    importlib.import_module("jobs.nightly")
    tree = ast.get_docstring(ast.parse((ROOT / "workflow" / "errors.py").read_text())) or ""
    drawn = set(re.findall(r"\b([A-Z]\w+)\b", tree))
    errors = {
        cls.__name__
        for cls in _all_subclasses(FidelisError)
        if cls.__module__.startswith(("workflow", "jobs"))
    }
    assert len(errors) > 8
    assert sorted(errors - drawn) == []
