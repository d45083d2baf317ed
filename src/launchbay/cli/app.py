"""The commands: run, preview, kill, attach, block ..."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

import typer

from launchbay.cli import console
from launchbay.cli.blocks import block_app
from launchbay.cli.build import build_infrastructure, load_infrastructure_block
from launchbay.cli.exit_codes import exit_code_for
from launchbay.cli.flags import PREVIEW, RUN, ParsedFlags
from launchbay.cli.info import info
from launchbay.cli.parameters import with_flags
from launchbay.cli.runs import register as register_run_commands
from launchbay.cli.supervise import Interrupted, check_grace, run_infrastructure

if TYPE_CHECKING:
    from launchbay.infrastructure.base import Infrastructure

COMMAND_HELP = "The command to run, after --."


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="launchbay",
        help="Run a command on a local process, in a Docker container, or as a Kubernetes Job.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.command(context_settings={"allow_interspersed_args": False})(run)
    app.command()(preview)
    app.command()(kill)
    app.command()(attach)
    app.command()(version)
    app.command()(info)
    app.add_typer(block_app, name="block")
    register_run_commands(app)  # ps, logs, wait, inspect, rm, prune
    return app


def version() -> None:
    """Print launchbay's version."""
    from launchbay import __version__

    print(__version__)


@with_flags(RUN)
def run(
    command: Optional[list[str]] = typer.Argument(None, help=COMMAND_HELP, show_default=False),
    *,
    options: ParsedFlags,
) -> None:
    """Run COMMAND and stream its output; exit with its status code.

    Examples:

      launchbay run -- echo hello

      launchbay run --docker busybox:1.36 -e NAME=me -- sh -c 'echo hi $NAME'

      launchbay run --infra my-block -- python job.py
    """
    console.configure_logging(quiet=options.quiet, verbose=options.verbose)
    grace = check_grace(options.grace)
    infrastructure = build_infrastructure(options, command)
    if options.detach:
        from launchbay.cli.runs import run_detached

        raise typer.Exit(run_detached(infrastructure, options))
    from launchbay.cli.runs import block_reference

    block = block_reference(options, infrastructure)
    try:
        result = run_infrastructure(infrastructure, quiet=options.quiet, grace_seconds=grace, block=block)
    except Interrupted as stopped:
        raise typer.Exit(stopped.exit_code) from None
    if result.still_running:
        console.info(
            f"{result.identifier} runs on: `launchbay attach {result.identifier}` follows it, "
            f"`launchbay kill {result.identifier}` stops it"
        )
    raise typer.Exit(exit_code_for(result))


@with_flags(PREVIEW)
def preview(
    command: Optional[list[str]] = typer.Argument(None, help=COMMAND_HELP, show_default=False),
    *,
    options: ParsedFlags,
) -> None:
    """Print exactly what `run` would create, without creating anything."""
    infrastructure = build_infrastructure(options, command)
    if not infrastructure.command or not infrastructure.command[0]:
        raise typer.BadParameter("give the command to preview after -- (it is empty)", param_hint="COMMAND")
    print(infrastructure.preview())


def kill(
    infrastructure_pid: str = typer.Argument(
        ..., metavar="RUN", help="A run id (or unique prefix), a run name, or the pid `run` reported."
    ),
    grace: int = typer.Option(30, "--grace", help="Seconds to wait after SIGTERM before killing."),
    infra: Optional[str] = typer.Option(
        None, "--infra", help="The saved block the run used (to reach its daemon or cluster)."
    ),
    cluster_config: Optional[str] = typer.Option(
        None, "--cluster-config", help="A saved kubernetes-cluster-config block (Kubernetes pids)."
    ),
) -> None:
    """Stop a run by its run id, name or infrastructure pid (from any shell)."""
    console.configure_logging()
    if not infra and not cluster_config:
        from launchbay.cli.runs import kill_recorded, recorded_run

        record = recorded_run(infrastructure_pid)
        if record is not None:
            kill_recorded(record, grace)
            console.info(f"stopped {infrastructure_pid}")
            return
    infrastructure = _infrastructure_for_pid(infrastructure_pid, infra, cluster_config)
    infrastructure.kill(infrastructure_pid, grace_seconds=grace)
    console.info(f"stopped {infrastructure_pid}")


def attach(
    infrastructure_pid: str = typer.Argument(
        ..., metavar="RUN", help="A run id (or unique prefix), a run name, or the pid `run` reported."
    ),
    infra: Optional[str] = typer.Option(
        None, "--infra", help="The saved block the run used (to reach its daemon or cluster)."
    ),
    cluster_config: Optional[str] = typer.Option(
        None, "--cluster-config", help="A saved kubernetes-cluster-config block (Kubernetes pids)."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only print the run's own output and errors."),
) -> None:
    """Resume monitoring and output of a run started elsewhere; exit with its status code."""
    console.configure_logging(quiet=quiet)
    if not infra and not cluster_config:
        from launchbay.cli.runs import attach_recorded, recorded_run

        record = recorded_run(infrastructure_pid)
        if record is not None:
            raise typer.Exit(attach_recorded(record))
    infrastructure = _infrastructure_for_pid(infrastructure_pid, infra, cluster_config)
    result = infrastructure.attach(infrastructure_pid)
    raise typer.Exit(exit_code_for(result))


# --- helpers ---------------------------------------------------------------------


def _infrastructure_for_pid(
    infrastructure_pid: str, reference: str | None, cluster_config: str | None = None
) -> Infrastructure:
    """The configuration to reach a run with: the saved block, or a default one of
    the kind the pid names (a Kubernetes one in the pid's namespace)."""
    from launchbay.blocks.core import Block
    from launchbay.infrastructure.base import Infrastructure, infrastructure_type_for_pid

    if reference:
        if cluster_config:
            raise typer.BadParameter("give --infra or --cluster-config, not both")
        return load_infrastructure_block(reference)
    kind = infrastructure_type_for_pid(infrastructure_pid)
    cls = Block.block_class_for(kind)
    assert issubclass(cls, Infrastructure)
    fields: dict[str, Any] = {}
    if kind != "kubernetes-job":
        if cluster_config:
            raise typer.BadParameter(f"--cluster-config is for Kubernetes pids, and this is a {kind} pid")
        return cls(**fields)
    fields["namespace"] = infrastructure_pid.split(":")[1]
    if cluster_config:
        from launchbay.blocks.kubernetes import KubernetesClusterConfig

        fields["cluster_config"] = KubernetesClusterConfig.load(cluster_config)
    return cls(**fields)
