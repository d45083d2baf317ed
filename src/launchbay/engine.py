"""``python -m launchbay.engine``: run a flow run's entrypoint.

Reads ``LAUNCHBAY__FLOW_RUN_ID``, ``LAUNCHBAY__FLOW_ENTRYPOINT``
(``path/to/file.py:function`` or ``package.module:function``) and
``LAUNCHBAY__FLOW_PARAMETERS`` (a JSON object), calls the function (awaiting it if
it is async), prints its result, and exits 0 on success or 1 on an exception.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

FLOW_RUN_ID_ENV = "LAUNCHBAY__FLOW_RUN_ID"
FLOW_ENTRYPOINT_ENV = "LAUNCHBAY__FLOW_ENTRYPOINT"
FLOW_PARAMETERS_ENV = "LAUNCHBAY__FLOW_PARAMETERS"


class EngineError(Exception):
    """The flow run's environment does not say what to run."""


def load_entrypoint(entrypoint: str) -> Callable[..., Any]:
    """The function an entrypoint names."""
    path_or_module, sep, function_name = entrypoint.rpartition(":")
    if not sep or not path_or_module or not function_name:
        raise EngineError(
            f"Invalid entrypoint {entrypoint!r}: expected path/to/file.py:function or package.module:function"
        )
    if path_or_module.endswith(".py") or os.sep in path_or_module or "/" in path_or_module:
        path = Path(path_or_module).expanduser().resolve()
        if not path.is_file():
            raise EngineError(f"Entrypoint file {str(path)!r} does not exist")
        spec = importlib.util.spec_from_file_location(f"__launchbay_flow__.{path.stem}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.path.insert(0, str(path.parent))  # so the file's sibling imports work
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    else:
        try:
            module = importlib.import_module(path_or_module)
        except ModuleNotFoundError as exc:
            raise EngineError(f"Cannot import module {path_or_module!r}: {exc}") from None
    try:
        function = getattr(module, function_name)
    except AttributeError:
        raise EngineError(f"{path_or_module!r} has no function {function_name!r}") from None
    if not callable(function):
        raise EngineError(f"{entrypoint!r} is not callable")
    return function


def run_flow(entrypoint: str, parameters: dict[str, Any]) -> Any:
    function = load_entrypoint(entrypoint)
    result = function(**parameters)
    if inspect.isawaitable(result):
        import anyio

        async def _await() -> Any:
            return await result

        result = anyio.run(_await)
    return result


def main(environ: dict[str, str] | None = None) -> int:
    environ = dict(os.environ if environ is None else environ)
    flow_run_id = environ.get(FLOW_RUN_ID_ENV)
    entrypoint = environ.get(FLOW_ENTRYPOINT_ENV)
    if not entrypoint:
        print(
            f"launchbay.engine: {FLOW_ENTRYPOINT_ENV} is not set; nothing to run "
            f"(flow run {flow_run_id or 'unknown'}).",
            file=sys.stderr,
        )
        return 1
    try:
        parameters = json.loads(environ.get(FLOW_PARAMETERS_ENV) or "{}")
        if not isinstance(parameters, dict):
            raise ValueError("the parameters must be a JSON object")
    except ValueError as exc:
        print(f"launchbay.engine: invalid {FLOW_PARAMETERS_ENV}: {exc}", file=sys.stderr)
        return 1
    print(f"launchbay.engine: flow run {flow_run_id} running {entrypoint}", file=sys.stderr)
    try:
        result = run_flow(entrypoint, parameters)
    except EngineError as exc:
        print(f"launchbay.engine: {exc}", file=sys.stderr)
        return 1
    except Exception:
        traceback.print_exc()
        print(f"launchbay.engine: flow run {flow_run_id} failed", file=sys.stderr)
        return 1
    print(result)
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
