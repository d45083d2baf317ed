"""The commands: run, preview, kill, attach, block ..."""

from __future__ import annotations

import signal
import sys
from typing import TYPE_CHECKING, Any, Optional

import typer

from launchbay.cli import console
from launchbay.cli.blocks import block_app
from launchbay.cli.build import build_infrastructure, load_infrastructure_block
from launchbay.cli.exit_codes import exit_code_for
from launchbay.cli.flags import PREVIEW, RUN, ParsedFlags
from launchbay.cli.parameters import with_flags

if TYPE_CHECKING:
    from anyio.abc import TaskStatus

    from launchbay.infrastructure.base import Infrastructure, InfrastructureResult

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
    app.add_typer(block_app, name="block")
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
    infrastructure = build_infrastructure(options, command)
    result = _run_with_signals(infrastructure, quiet=options.quiet)
    raise typer.Exit(exit_code_for(result))


@with_flags(PREVIEW)
def preview(
    command: Optional[list[str]] = typer.Argument(None, help=COMMAND_HELP, show_default=False),
    *,
    options: ParsedFlags,
) -> None:
    """Print exactly what `run` would create, without creating anything."""
    infrastructure = build_infrastructure(options, command)
    print(infrastructure.preview())


def kill(
    infrastructure_pid: str = typer.Argument(..., metavar="INFRA_PID", help="The pid `run` reported."),
    grace: int = typer.Option(30, "--grace", help="Seconds to wait after SIGTERM before killing."),
    infra: Optional[str] = typer.Option(
        None, "--infra", help="The saved block the run used (to reach its daemon or cluster)."
    ),
    cluster_config: Optional[str] = typer.Option(
        None, "--cluster-config", help="A saved kubernetes-cluster-config block (Kubernetes pids)."
    ),
) -> None:
    """Stop a run by its infrastructure pid (from any shell)."""
    console.configure_logging()
    infrastructure = _infrastructure_for_pid(infrastructure_pid, infra, cluster_config)
    infrastructure.kill(infrastructure_pid, grace_seconds=grace)
    console.info(f"stopped {infrastructure_pid}")


def attach(
    infrastructure_pid: str = typer.Argument(..., metavar="INFRA_PID", help="The pid `run` reported."),
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


def _single_cause(exc: BaseException) -> BaseException:
    """The one real error inside (nested) exception groups from the task group."""
    if sys.version_info >= (3, 11):
        group_type: type = BaseExceptionGroup  # noqa: F821 - builtin on 3.11+
    else:  # pragma: no cover
        from exceptiongroup import BaseExceptionGroup as group_type  # type: ignore[import-not-found]
    while isinstance(exc, group_type) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def _run_with_signals(infrastructure: Infrastructure, *, quiet: bool) -> InfrastructureResult:
    """Run, report the pid on stderr, and turn SIGINT/SIGTERM into a clean stop."""
    import anyio

    outcome: dict[str, Any] = {}

    async def main() -> None:
        async with anyio.create_task_group() as task_group:

            async def run_it(*, task_status: TaskStatus[str]) -> None:
                outcome["result"] = await infrastructure.run(task_status=task_status)
                task_group.cancel_scope.cancel()

            async def on_signal() -> None:
                with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                    async for signum in signals:
                        outcome["signal"] = signum
                        console.warning(f"received {signal.Signals(signum).name}; stopping the run")
                        task_group.cancel_scope.cancel()
                        return

            if sys.platform != "win32":
                task_group.start_soon(on_signal)
            pid = await task_group.start(run_it)
            if not quiet:
                console.info(f"started {pid}")

    try:
        anyio.run(main)
    except BaseException as exc:
        raise _single_cause(exc) from None
    if "result" in outcome:
        result: InfrastructureResult = outcome["result"]
        return result
    signum = outcome.get("signal", signal.SIGINT)
    raise typer.Exit(128 + int(signum))
