"""Flags shared by ``run``, ``preview`` and ``block save``, and the infrastructure
they describe."""

from __future__ import annotations

import functools
import inspect
import json
import typing
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, Optional

import typer

from launchbay.exceptions import BlockError

KIND_PANEL = "Where to run"
COMMON_PANEL = "Run settings"
PROCESS_PANEL = "Process"
DOCKER_PANEL = "Docker"
KUBERNETES_PANEL = "Kubernetes"


@dataclass
class InfraOptions:
    """Every infrastructure flag, as parsed. ``None`` means "not given"."""

    infra: Optional[str] = None
    process: bool = False
    docker: Optional[str] = None
    kubernetes: Optional[str] = None
    env: list[str] = field(default_factory=list)
    label: list[str] = field(default_factory=list)
    name: Optional[str] = None
    flow: Optional[str] = None
    param: list[str] = field(default_factory=list)
    no_stream: bool = False
    working_dir: Optional[Path] = None
    pull: Optional[str] = None
    volume: list[str] = field(default_factory=list)
    network: list[str] = field(default_factory=list)
    network_mode: Optional[str] = None
    mem_limit: Optional[str] = None
    memswap_limit: Optional[str] = None
    privileged: bool = False
    auto_remove: bool = False
    registry: Optional[str] = None
    namespace: Optional[str] = None
    job_file: Optional[Path] = None
    customization: Optional[str] = None
    cluster_config: Optional[str] = None
    service_account: Optional[str] = None
    pull_policy: Optional[str] = None
    finished_job_ttl: Optional[int] = None
    job_watch_timeout: Optional[int] = None


_HELP: dict[str, tuple[str, Any]] = {
    # name: (help, typer.Option extra)
    "infra": ("A saved infrastructure block: TYPE/NAME, or NAME when unique.", KIND_PANEL),
    "process": ("Run as a local process (the default).", KIND_PANEL),
    "docker": ("Run in a Docker container from IMAGE.", KIND_PANEL),
    "kubernetes": ("Run as a Kubernetes Job with IMAGE.", KIND_PANEL),
    "env": ("Environment variable KEY=VALUE (repeatable); KEY alone unsets it.", COMMON_PANEL),
    "label": ("Label KEY=VALUE (repeatable).", COMMON_PANEL),
    "name": ("Name of the process, container or job.", COMMON_PANEL),
    "flow": (
        "Run a flow entrypoint (path/file.py:function or module:function) through launchbay.engine.",
        COMMON_PANEL,
    ),
    "param": ("Flow parameter KEY=VALUE (repeatable; VALUE is JSON when it parses).", COMMON_PANEL),
    "no_stream": ("Do not relay the run's output.", COMMON_PANEL),
    "working_dir": ("Directory to run the process in (default: a fresh temporary one).", PROCESS_PANEL),
    "pull": ("Image pull policy: always, never or if-not-present.", DOCKER_PANEL),
    "volume": ("Volume HOST_PATH:CONTAINER_PATH[:MODE] (repeatable).", DOCKER_PANEL),
    "network": ("Network to connect the container to (repeatable).", DOCKER_PANEL),
    "network_mode": ("Docker network mode (e.g. host, bridge, none).", DOCKER_PANEL),
    "mem_limit": ("Memory limit, e.g. 512m.", DOCKER_PANEL),
    "memswap_limit": ("Memory plus swap limit, e.g. 1g (-1: unlimited swap).", DOCKER_PANEL),
    "privileged": ("Give the container extended privileges.", DOCKER_PANEL),
    "auto_remove": ("Remove the container when it exits.", DOCKER_PANEL),
    "registry": ("A saved docker-registry block to pull with.", DOCKER_PANEL),
    "namespace": ("Kubernetes namespace (default: default).", KUBERNETES_PANEL),
    "job_file": ("Job manifest (YAML or JSON) to start from.", KUBERNETES_PANEL),
    "customization": ("JSON patch (RFC 6902) for the job, as JSON or @file.", KUBERNETES_PANEL),
    "cluster_config": ("A saved kubernetes-cluster-config block.", KUBERNETES_PANEL),
    "service_account": ("Service account for the job's pod.", KUBERNETES_PANEL),
    "pull_policy": ("Image pull policy: Always, Never or IfNotPresent.", KUBERNETES_PANEL),
    "finished_job_ttl": ("Seconds to keep the finished job (ttlSecondsAfterFinished).", KUBERNETES_PANEL),
    "job_watch_timeout": ("Seconds to wait for the job to finish (default: no limit).", KUBERNETES_PANEL),
}

_METAVARS: dict[str, str] = {
    "infra": "BLOCK",
    "docker": "IMAGE",
    "kubernetes": "IMAGE",
    "env": "KEY=VALUE",
    "label": "KEY=VALUE",
    "name": "NAME",
    "flow": "ENTRYPOINT",
    "param": "KEY=VALUE",
    "working_dir": "DIR",
    "pull": "POLICY",
    "volume": "HOST:CONTAINER",
    "network": "NETWORK",
    "network_mode": "MODE",
    "mem_limit": "SIZE",
    "memswap_limit": "SIZE",
    "registry": "BLOCK",
    "namespace": "NAMESPACE",
    "job_file": "FILE",
    "customization": "JSON|@FILE",
    "cluster_config": "BLOCK",
    "service_account": "NAME",
    "pull_policy": "POLICY",
    "finished_job_ttl": "SECONDS",
    "job_watch_timeout": "SECONDS",
}

_FLAG_NAMES: dict[str, list[str]] = {"env": ["--env", "-e"], "label": ["--label", "-l"]}


def _parameters() -> list[inspect.Parameter]:
    parameters = []
    hints = typing.get_type_hints(InfraOptions)
    for spec in fields(InfraOptions):
        help_text, panel = _HELP[spec.name]
        names = _FLAG_NAMES.get(spec.name, ["--" + spec.name.replace("_", "-")])
        option = typer.Option(
            None if spec.default is MISSING else spec.default,
            *names,
            help=help_text,
            rich_help_panel=panel,
            show_default=False,
            metavar=_METAVARS.get(spec.name),
        )
        parameters.append(
            inspect.Parameter(
                spec.name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=hints[spec.name]
            )
        )
    return parameters


def with_infra_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add every infrastructure flag to ``command``, which receives them as
    one ``options: InfraOptions`` argument."""
    signature = inspect.signature(command)
    hints = typing.get_type_hints(command)
    own = [
        p.replace(annotation=hints.get(p.name, p.annotation))
        for p in signature.parameters.values()
        if p.name != "options"
    ]
    positional = [p for p in own if p.kind is not inspect.Parameter.KEYWORD_ONLY]
    keyword = [p for p in own if p.kind is inspect.Parameter.KEYWORD_ONLY]

    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> Any:
        names = {spec.name for spec in fields(InfraOptions)}
        option_values = {key: kwargs.pop(key) for key in list(kwargs) if key in names}
        option_values = {
            key: ([] if value is None and isinstance(getattr(InfraOptions(), key), list) else value)
            for key, value in option_values.items()
        }
        return command(options=InfraOptions(**option_values), **kwargs)

    wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=positional
        + [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in keyword]
        + _parameters()
    )
    del wrapper.__wrapped__  # typer must read the new signature, not the original
    wrapper.__annotations__ = {p.name: p.annotation for p in wrapper.__signature__.parameters.values()}  # type: ignore[attr-defined]
    return wrapper


# --- parsing -------------------------------------------------------------------


def parse_key_values(items: list[str], what: str, *, allow_unset: bool = False) -> dict[str, str | None]:
    parsed: dict[str, str | None] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not key:
            raise typer.BadParameter(f"{what} {item!r} needs a KEY: use KEY=VALUE")
        if not sep:
            if not allow_unset:
                raise typer.BadParameter(f"{what} {item!r} needs a value: use KEY=VALUE")
            parsed[key] = None
        else:
            parsed[key] = value
    return parsed


def parse_parameters(items: list[str]) -> dict[str, Any]:
    parameters: dict[str, Any] = {}
    for key, value in parse_key_values(items, "--param").items():
        assert value is not None
        try:
            parameters[key] = json.loads(value)
        except ValueError:
            parameters[key] = value
    return parameters


def kind_of(options: InfraOptions) -> str:
    chosen = [
        name
        for name, given in (
            ("infra", options.infra),
            ("process", options.process),
            ("docker", options.docker),
            ("kubernetes", options.kubernetes),
        )
        if given
    ]
    if len(chosen) > 1:
        raise typer.BadParameter(
            "choose one of --infra, --process, --docker and --kubernetes, not "
            + " and ".join(f"--{name}" for name in chosen)
        )
    return chosen[0] if chosen else "process"


def common_fields(options: InfraOptions, command: list[str] | None) -> dict[str, Any]:
    """Fields every kind shares, for the flags that were given."""
    values: dict[str, Any] = {}
    if options.env:
        values["env"] = parse_key_values(options.env, "--env", allow_unset=True)
    if options.label:
        labels = parse_key_values(options.label, "--label")
        values["labels"] = {key: value or "" for key, value in labels.items()}
    if options.name is not None:
        values["name"] = options.name
    if command:
        values["command"] = list(command)
    if options.no_stream:
        values["stream_output"] = False
    return values


def load_infrastructure_block(reference: str) -> Any:
    """A saved infrastructure block by TYPE/NAME, or by NAME when only one type has it."""
    from launchbay.blocks.core import Block
    from launchbay.blocks.store import open_store
    from launchbay.exceptions import BlockNotFound
    from launchbay.infrastructure.base import Infrastructure

    if "/" in reference:
        block = Block.load(reference)
    else:
        store = open_store()
        matches = [
            saved
            for saved in store.list()
            if saved.name == reference and issubclass(Block.block_class_for(saved.type_slug), Infrastructure)
        ]
        if not matches:
            raise BlockNotFound(f"No infrastructure block named {reference!r}; see `launchbay block ls`.")
        if len(matches) > 1:
            raise BlockError(
                f"Several blocks are named {reference!r}: "
                + ", ".join(m.reference for m in matches)
                + "; name one as TYPE/NAME."
            )
        block = Block.load(matches[0].reference, store=store)
    if not isinstance(block, Infrastructure):
        raise BlockError(f"{reference!r} is a {block.get_block_type_slug()} block, not infrastructure")
    return block


def build_infrastructure(options: InfraOptions, command: list[str] | None) -> Any:
    """The infrastructure the flags describe, prepared for a flow run if --flow."""
    kind = kind_of(options)
    values = common_fields(options, command)
    if kind == "infra":
        assert options.infra
        base = load_infrastructure_block(options.infra)
        update = dict(values)
        if "env" in update:
            update["env"] = {**base.env, **update["env"]}
        if "labels" in update:
            update["labels"] = {**base.labels, **update["labels"]}
        infrastructure = type(base).model_validate({**base.model_dump(), **update})
    elif kind == "docker":
        from launchbay.cli.docker_options import build_docker_container

        infrastructure = build_docker_container(options, values)
    elif kind == "kubernetes":
        from launchbay.cli.kubernetes_options import build_kubernetes_job

        infrastructure = build_kubernetes_job(options, values)
    else:
        from launchbay.infrastructure.process import Process

        if options.working_dir is not None:
            values["working_dir"] = options.working_dir
        infrastructure = Process(**values)
    if options.flow:
        from launchbay.models import FlowRun

        flow_run = FlowRun(entrypoint=options.flow, parameters=parse_parameters(options.param))
        infrastructure = infrastructure.prepare_for_flow_run(flow_run)
    elif options.param:
        raise typer.BadParameter("--param goes with --flow")
    return infrastructure
