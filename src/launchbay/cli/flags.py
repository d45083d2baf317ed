"""The one table of the flags of ``run``, ``preview`` and ``block save``.

Both parsers are generated from it: the typer options (``cli/parameters.py``) and
the fast path of ``launchbay run -- CMD`` (``cli/fast_path.py``); ``cli/fields.py``
reads from it which block field a given flag sets. Stdlib only and cheap to
import (plain classes, no dataclasses): the fast path loads it on every short run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

# How a flag is parsed.
SWITCH = "switch"  # --flag: True when given
VALUE = "value"  # --flag VALUE: the last one given
REPEATED = "repeated"  # --flag VALUE, as often as wanted: a list

# The kinds of infrastructure, named as the flags that choose them (--process, ...).
PROCESS = "process"
DOCKER = "docker"
KUBERNETES = "kubernetes"
EVERY_KIND = (PROCESS, DOCKER, KUBERNETES)

# The commands that take the table's flags.
RUN = "run"
PREVIEW = "preview"
SAVE = "block save"
INFRA_COMMANDS = (RUN, PREVIEW, SAVE)

# Help panels.
KIND_PANEL = "Where to run"
COMMON_PANEL = "Run settings"
PROCESS_PANEL = "Process"
RESOURCES_PANEL = "Resources (Docker, Kubernetes)"
DOCKER_PANEL = "Docker"
KUBERNETES_PANEL = "Kubernetes"


class PathValue:
    """The value type of a path flag: ``pathlib.Path`` as typer reads it
    (``parameters.py``); the fast path keeps the text as given, which the run
    resolves the same way (``pathlib`` would cost each start milliseconds)."""


class Flag:
    """One flag: how it is spelled and parsed, how help shows it, which kinds
    and commands use it, and the block field it sets."""

    __slots__ = (
        "attribute",
        "commands",
        "fast",
        "field",
        "form",
        "help",
        "kinds",
        "metavar",
        "panel",
        "spellings",
        "value_type",
    )

    def __init__(
        self,
        attribute: str,
        *spellings: str,
        form: str,
        help: str,
        panel: str | None = None,
        metavar: str | None = None,
        value_type: type[str] | type[PathValue] | type[int] | type[float] = str,
        kinds: tuple[str, ...] = EVERY_KIND,
        field: str | None = None,
        commands: tuple[str, ...] = INFRA_COMMANDS,
        fast: bool = False,
    ) -> None:
        self.attribute = attribute  # the name on ParsedFlags
        self.spellings = spellings or ("--" + attribute.replace("_", "-"),)
        self.form = form
        self.help = help
        self.panel = panel
        self.metavar = metavar
        self.value_type = value_type  # of each value (switches are bool)
        self.kinds = kinds
        self.field = field  # the block field it sets; None when it sets none directly
        self.commands = commands
        self.fast = fast  # the fast path of `run` takes it (a plain local process)

    def parse(self, value: str) -> str | int | float:
        """One value as the fast path reads it (ValueError when it is not one)."""
        if self.value_type is PathValue:
            return value
        return self.value_type(value)  # type: ignore[call-arg, return-value]

    def default(self) -> bool | list[object] | None:
        """The value when the flag is not given."""
        if self.form == SWITCH:
            return False
        return [] if self.form == REPEATED else None

    def __repr__(self) -> str:
        return f"Flag({self.spellings[0]})"


FLAGS: tuple[Flag, ...] = (
    Flag(
        "quiet",
        "--quiet",
        "-q",
        form=SWITCH,
        help="Only print the run's own output and errors.",
        commands=(RUN,),
        fast=True,
    ),
    Flag("verbose", "--verbose", "-v", form=SWITCH, help="Print debug logs.", commands=(RUN,), fast=True),
    Flag(
        "infra",
        form=VALUE,
        metavar="BLOCK",
        help="A saved infrastructure block: TYPE/NAME, or NAME when unique.",
        panel=KIND_PANEL,
    ),
    Flag(
        "process",
        form=SWITCH,
        help="Run as a local process (the default).",
        panel=KIND_PANEL,
        kinds=(PROCESS,),
        fast=True,
    ),
    Flag(
        "docker",
        form=VALUE,
        metavar="IMAGE",
        help="Run in a Docker container from IMAGE.",
        panel=KIND_PANEL,
        kinds=(DOCKER,),
        field="image",
    ),
    Flag(
        "kubernetes",
        form=VALUE,
        metavar="IMAGE",
        help="Run as a Kubernetes Job with IMAGE.",
        panel=KIND_PANEL,
        kinds=(KUBERNETES,),
        field="image",
    ),
    Flag(
        "env",
        "--env",
        "-e",
        form=REPEATED,
        metavar="KEY=VALUE",
        help="Environment variable KEY=VALUE (repeatable); KEY alone unsets it.",
        panel=COMMON_PANEL,
        field="env",
        fast=True,
    ),
    Flag(
        "label",
        "--label",
        "-l",
        form=REPEATED,
        metavar="KEY=VALUE",
        help="Label KEY=VALUE (repeatable).",
        panel=COMMON_PANEL,
        field="labels",
        fast=True,
    ),
    Flag(
        "name",
        form=VALUE,
        metavar="NAME",
        help="Name of the process, container or job.",
        panel=COMMON_PANEL,
        field="name",
        fast=True,
    ),
    Flag(
        "flow",
        form=VALUE,
        metavar="ENTRYPOINT",
        help="Run a flow entrypoint (path/file.py:function or module:function) through launchbay.engine.",
        panel=COMMON_PANEL,
    ),
    Flag(
        "param",
        form=REPEATED,
        metavar="KEY=VALUE",
        help="Flow parameter KEY=VALUE (repeatable; VALUE is JSON when it parses).",
        panel=COMMON_PANEL,
    ),
    Flag(
        "no_stream",
        form=SWITCH,
        help="Do not relay the run's output.",
        panel=COMMON_PANEL,
        field="stream_output",
        fast=True,
    ),
    Flag(
        "timeout",
        form=VALUE,
        value_type=float,
        metavar="SECONDS",
        help="Stop the run once it has run this long; its result says timed_out.",
        panel=COMMON_PANEL,
        field="timeout_seconds",
        fast=True,
    ),
    Flag(
        "grace",
        form=VALUE,
        value_type=float,
        metavar="SECONDS",
        help="Seconds a run stopped by a signal or a timeout gets before it is killed (default: 10).",
        panel=COMMON_PANEL,
        commands=(RUN,),
        fast=True,
    ),
    Flag(
        "working_dir",
        form=VALUE,
        value_type=PathValue,
        metavar="DIR",
        help="Directory to run the process in (default: a fresh temporary one).",
        panel=PROCESS_PANEL,
        kinds=(PROCESS,),
        field="working_dir",
        fast=True,
    ),
    Flag(
        "cpus",
        form=VALUE,
        value_type=float,
        metavar="CPUS",
        help="CPUs the run may use, e.g. 0.5 or 2 (Docker: cpus; Kubernetes: CPU request = limit).",
        panel=RESOURCES_PANEL,
        kinds=(DOCKER, KUBERNETES),
    ),
    Flag(
        "memory",
        form=VALUE,
        metavar="SIZE",
        help="Memory the run may use, e.g. 512m or 2g (binary units, as docker's; Docker: mem_limit; "
        "Kubernetes: memory request = limit).",
        panel=RESOURCES_PANEL,
        kinds=(DOCKER, KUBERNETES),
    ),
    Flag(
        "gpus",
        form=VALUE,
        metavar="N|all",
        help="GPUs for the run: a number, or all for Docker (Kubernetes: an nvidia.com/gpu limit).",
        panel=RESOURCES_PANEL,
        kinds=(DOCKER, KUBERNETES),
        field="gpus",
    ),
    Flag(
        "shm_size",
        form=VALUE,
        metavar="SIZE",
        help="Size of the container's /dev/shm, e.g. 64m (Docker only).",
        panel=RESOURCES_PANEL,
        kinds=(DOCKER,),
        field="shm_size",
    ),
    Flag(
        "pull",
        form=VALUE,
        metavar="POLICY",
        help="Image pull policy: always, never or if-not-present.",
        panel=DOCKER_PANEL,
        kinds=(DOCKER,),
        field="image_pull_policy",
    ),
    Flag(
        "volume",
        form=REPEATED,
        metavar="HOST:CONTAINER",
        help="Volume HOST_PATH:CONTAINER_PATH[:MODE] (repeatable).",
        panel=DOCKER_PANEL,
        kinds=(DOCKER,),
        field="volumes",
    ),
    Flag(
        "network",
        form=REPEATED,
        metavar="NETWORK",
        help="Network to connect the container to (repeatable).",
        panel=DOCKER_PANEL,
        kinds=(DOCKER,),
        field="networks",
    ),
    Flag(
        "network_mode",
        form=VALUE,
        metavar="MODE",
        help="Docker network mode (e.g. host, bridge, none).",
        panel=DOCKER_PANEL,
        kinds=(DOCKER,),
        field="network_mode",
    ),
    Flag(
        "mem_limit",
        form=VALUE,
        metavar="SIZE",
        help="Memory limit, e.g. 512m.",
        panel=DOCKER_PANEL,
        kinds=(DOCKER,),
        field="mem_limit",
    ),
    Flag(
        "memswap_limit",
        form=VALUE,
        metavar="SIZE",
        help="Memory plus swap limit, e.g. 1g (-1: unlimited swap).",
        panel=DOCKER_PANEL,
        kinds=(DOCKER,),
        field="memswap_limit",
    ),
    Flag(
        "privileged",
        form=SWITCH,
        help="Give the container extended privileges.",
        panel=DOCKER_PANEL,
        kinds=(DOCKER,),
        field="privileged",
    ),
    Flag(
        "auto_remove",
        form=SWITCH,
        help="Remove the container when it exits.",
        panel=DOCKER_PANEL,
        kinds=(DOCKER,),
        field="auto_remove",
    ),
    Flag(
        "registry",
        form=VALUE,
        metavar="BLOCK",
        help="A saved docker-registry block to pull with.",
        panel=DOCKER_PANEL,
        kinds=(DOCKER,),
        field="image_registry",
    ),
    Flag(
        "namespace",
        form=VALUE,
        metavar="NAMESPACE",
        help="Kubernetes namespace (default: default).",
        panel=KUBERNETES_PANEL,
        kinds=(KUBERNETES,),
        field="namespace",
    ),
    Flag(
        "job_file",
        form=VALUE,
        value_type=PathValue,
        metavar="FILE",
        help="Job manifest (YAML or JSON) to start from.",
        panel=KUBERNETES_PANEL,
        kinds=(KUBERNETES,),
        field="job",
    ),
    Flag(
        "customization",
        form=VALUE,
        metavar="JSON|@FILE",
        help="JSON patch (RFC 6902) for the job, as JSON or @file.",
        panel=KUBERNETES_PANEL,
        kinds=(KUBERNETES,),
        field="customizations",
    ),
    Flag(
        "cluster_config",
        form=VALUE,
        metavar="BLOCK",
        help="A saved kubernetes-cluster-config block.",
        panel=KUBERNETES_PANEL,
        kinds=(KUBERNETES,),
        field="cluster_config",
    ),
    Flag(
        "service_account",
        form=VALUE,
        metavar="NAME",
        help="Service account for the job's pod.",
        panel=KUBERNETES_PANEL,
        kinds=(KUBERNETES,),
        field="service_account_name",
    ),
    Flag(
        "pull_policy",
        form=VALUE,
        metavar="POLICY",
        help="Image pull policy: Always, Never or IfNotPresent.",
        panel=KUBERNETES_PANEL,
        kinds=(KUBERNETES,),
        field="image_pull_policy",
    ),
    Flag(
        "finished_job_ttl",
        form=VALUE,
        value_type=int,
        metavar="SECONDS",
        help="Seconds to keep the finished job (ttlSecondsAfterFinished).",
        panel=KUBERNETES_PANEL,
        kinds=(KUBERNETES,),
        field="finished_job_ttl",
    ),
    Flag(
        "job_watch_timeout",
        form=VALUE,
        value_type=int,
        metavar="SECONDS",
        help="Seconds to wait for the job to finish (default: no limit).",
        panel=KUBERNETES_PANEL,
        kinds=(KUBERNETES,),
        field="job_watch_timeout_seconds",
    ),
    Flag(
        "detach",
        "--detach",
        "-d",
        form=SWITCH,
        help="Start the run in the background: print its run id and exit 0 once it has started "
        "(follow it with launchbay logs -f / wait / attach).",
        panel=COMMON_PANEL,
        commands=(RUN,),
    ),
)


def flags_of(command: str) -> tuple[Flag, ...]:
    """The table's flags that ``command`` takes, in table order."""
    return tuple(flag for flag in FLAGS if command in flag.commands)


class ParsedFlags:
    """Every flag of the table as parsed: False, None or [] when not given.

    The annotations are the static face of the table (a test keeps them in step
    with it); the values come from the table's defaults.
    """

    quiet: bool
    verbose: bool
    infra: str | None
    process: bool
    docker: str | None
    kubernetes: str | None
    env: list[str]
    label: list[str]
    name: str | None
    flow: str | None
    param: list[str]
    no_stream: bool
    timeout: float | None
    grace: float | None
    working_dir: str | Path | None  # text on the fast path
    cpus: float | None
    memory: str | None
    gpus: str | None
    shm_size: str | None
    pull: str | None
    volume: list[str]
    network: list[str]
    network_mode: str | None
    mem_limit: str | None
    memswap_limit: str | None
    privileged: bool
    auto_remove: bool
    registry: str | None
    namespace: str | None
    job_file: str | Path | None
    customization: str | None
    cluster_config: str | None
    service_account: str | None
    pull_policy: str | None
    finished_job_ttl: int | None
    job_watch_timeout: int | None
    detach: bool

    def __init__(self, **values: object) -> None:
        for flag in FLAGS:
            value = values.pop(flag.attribute) if flag.attribute in values else flag.default()
            setattr(self, flag.attribute, value)
        if values:
            raise TypeError(f"not flags of the table: {', '.join(values)}")

    def __repr__(self) -> str:
        given = ", ".join(f"{key}={value!r}" for key, value in vars(self).items() if is_given(value))
        return f"ParsedFlags({given})"


class FlagError(ValueError):
    """A flag's value, or a combination of flags, that cannot be used; the
    typer CLI shows it as a usage error (exit 2)."""

    def __init__(self, message: str, *, param_hint: str | None = None) -> None:
        super().__init__(message)
        self.param_hint = param_hint


def is_given(value: object) -> bool:
    """Whether a parsed value says the flag was given (0 is a value; "" is not)."""
    return value is not None and value is not False and value not in ("", [])


def key_values(items: list[str], what: str, *, allow_unset: bool = False) -> dict[str, str | None]:
    """``KEY=VALUE`` items as a mapping; ``KEY`` alone maps to None where allowed."""
    parsed: dict[str, str | None] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not key:
            raise FlagError(f"{what} {item!r} needs a KEY: use KEY=VALUE")
        if not sep:
            if not allow_unset:
                raise FlagError(f"{what} {item!r} needs a value: use KEY=VALUE")
            parsed[key] = None
        else:
            parsed[key] = value
    return parsed
