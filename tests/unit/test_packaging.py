"""What ships where: the Lambda artifacts hold what the functions run, and the `model-promotion` distribution
holds the operators' command and the inference pipelines' client."""

from __future__ import annotations

import ast
import importlib
import re
import tomllib
from pathlib import Path

import pytest

from embedded_aws.template import load_template

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DIR = ROOT / "functions/promotion"
TEMPLATE = load_template(ROOT / "template.yaml")
HANDLERS = sorted(
    {
        r["Properties"]["Handler"].rpartition(".")[0]
        for r in TEMPLATE["Resources"].values()
        if r["Type"] == "AWS::Serverless::Function"
    }
)


def _operator_only() -> set[str]:
    """The Makefile's OPERATOR_ONLY: the files the build-%Function rule deletes from every artifact."""
    (line,) = [line for line in (ROOT / "Makefile").read_text().splitlines() if line.startswith("OPERATOR_ONLY :=")]
    return {f"model_promotion.{path.removesuffix('.py').replace('/', '.')}" for path in line.split(":=")[1].split()}


def _module_file(module: str) -> Path:
    path = PACKAGE_DIR / module.replace(".", "/")
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def _imports(module: str) -> set[str]:
    """The model_promotion modules one module imports, at its top or inside a function (a lazy import is still
    an import the artifact must hold)."""
    tree = ast.parse(_module_file(module).read_text(encoding="utf-8"))
    package = module if _module_file(module).name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("model_promotion")}
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            origin = f"{base}.{node.module}" if node.level and node.module else base if node.level else node.module
            if not origin or not origin.startswith("model_promotion"):
                continue
            for alias in node.names:  # `from . import x` imports a module; `from .m import f` imports m
                candidate = f"{origin}.{alias.name}"
                found.add(candidate if _module_file(candidate).exists() else origin)
    return found


def _closure(module: str) -> set[str]:
    seen: set[str] = set()
    todo = [module]
    while todo:
        current = todo.pop()
        if current in seen or not _module_file(current).exists():
            continue
        seen.add(current)
        todo.extend(_imports(current))
    return seen


def test_the_operator_only_files_exist_so_the_build_deletes_what_it_names() -> None:
    assert {"model_promotion.cli", "model_promotion.client"} <= _operator_only()
    for module in _operator_only():
        assert _module_file(module).exists(), module


@pytest.mark.parametrize("handler", HANDLERS)
def test_no_function_imports_what_its_artifact_leaves_out(handler: str) -> None:
    reached = _closure(handler)
    assert len(reached) > 3  # the scan follows imports: a handler reaches its services, domain and adapters
    assert not reached & _operator_only(), f"{handler} imports {sorted(reached & _operator_only())}"


def test_the_distribution_installs_the_command_and_the_client() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["build-system"]["build-backend"] == "setuptools.build_meta"
    module, _, function = project["project"]["scripts"]["model-promotion"].partition(":")
    assert callable(getattr(importlib.import_module(module), function))
    assert project["tool"]["setuptools"]["packages"]["find"]["where"] == ["functions/promotion"]
    # The command's own imports are the distribution's dependencies, not the Lambda package's
    dependencies = {re.split(r"[<>=!~ ]", d)[0] for d in project["project"]["dependencies"]}
    assert dependencies == {"boto3", "aws-lambda-powertools", "click"}
