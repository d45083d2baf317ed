"""The public API: lazy exports match the type-checking imports, and
``import launchbay`` stays light."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import launchbay

PACKAGES = ["launchbay", "launchbay.infrastructure"]


def _type_checking_imports(module_name: str) -> dict[str, str]:
    """``{name: module}`` imported under ``if TYPE_CHECKING:`` in a package's __init__."""
    path = Path(importlib.import_module(module_name).__file__ or "")
    tree = ast.parse(path.read_text())
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for statement in node.body:
                if isinstance(statement, ast.ImportFrom) and statement.module:
                    for alias in statement.names:
                        found[alias.asname or alias.name] = statement.module
    return found


@pytest.mark.parametrize("module_name", PACKAGES)
def test_lazy_exports_match_the_type_checking_imports(module_name: str) -> None:
    module = importlib.import_module(module_name)
    exports: dict[str, str] = module._EXPORTS
    assert exports == _type_checking_imports(module_name)
    assert sorted(set(module.__all__) - {"__version__"}) == sorted(exports)
    for name, home in exports.items():
        assert getattr(module, name) is getattr(importlib.import_module(home), name), name


def test_the_spec_names_import() -> None:
    from launchbay import (  # noqa: F401 - SPEC 1
        Block,
        Deployment,
        DockerContainer,
        DockerContainerResult,
        DockerRegistry,
        ExitReason,
        Flow,
        FlowRun,
        ImagePullPolicy,
        Infrastructure,
        InfrastructureNotAvailable,
        InfrastructureNotFound,
        InfrastructureResult,
        KubernetesClusterConfig,
        KubernetesImagePullPolicy,
        KubernetesJob,
        KubernetesJobResult,
        Process,
        ProcessResult,
    )
    from launchbay.infrastructure import DockerContainer as D  # noqa: F401
    from launchbay.infrastructure import Infrastructure as I  # noqa: F401
    from launchbay.infrastructure import KubernetesJob as K  # noqa: F401
    from launchbay.infrastructure import Process as P  # noqa: F401

    assert issubclass(ExitReason, str) and ExitReason("timed_out") is ExitReason.TIMED_OUT


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError):
        launchbay.NotAThing  # noqa: B018


def test_import_launchbay_loads_nothing_heavy() -> None:
    code = (
        "import sys, launchbay, launchbay.infrastructure\n"
        "heavy = {'pydantic', 'docker', 'kubernetes', 'httpx', 'anyio', 'typer', 'rich', 'yaml', 'psycopg'}\n"
        "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
