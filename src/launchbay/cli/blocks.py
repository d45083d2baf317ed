"""``launchbay block save|load|ls|inspect|rm``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer

from launchbay.cli import console
from launchbay.cli.build import build_infrastructure
from launchbay.cli.flags import DOCKER, KUBERNETES, PROCESS, SAVE, ParsedFlags, flags_of, is_given
from launchbay.cli.parameters import with_flags
from launchbay.exceptions import BlockError

if TYPE_CHECKING:
    from launchbay.blocks.core import Block
    from launchbay.infrastructure.base import Infrastructure

block_app = typer.Typer(
    help="Save, load, list, inspect and remove blocks (named configurations).",
    no_args_is_help=True,
)

# The infrastructure block types, and the kind of flags that describe each.
INFRA_TYPES = {"process": PROCESS, "docker-container": DOCKER, "kubernetes-job": KUBERNETES}

# The block types each of `save`'s own options is for (the flag table's flags
# and the command are for the infrastructure types). One given for another type
# is refused rather than ignored.
_SAVE_OPTION_TYPES: dict[str, tuple[str, tuple[str, ...]]] = {
    "image": ("--image", ("docker-container", "kubernetes-job")),
    "from_file": ("--from-file", ("kubernetes-cluster-config",)),
    "context": ("--context", ("kubernetes-cluster-config",)),
    "username": ("--username", ("docker-registry",)),
    "password_stdin": ("--password-stdin", ("docker-registry",)),
    "registry_url": ("--registry-url", ("docker-registry",)),
    "reauth": ("--reauth/--no-reauth", ("docker-registry",)),
}


def _read_document(path: Path) -> dict[str, Any]:
    import yaml

    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text()
    except OSError as exc:
        raise typer.BadParameter(f"cannot read {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)  # JSON is YAML too
    except yaml.YAMLError as exc:
        raise typer.BadParameter(f"{path} is neither valid JSON nor YAML: {exc}") from None
    if not isinstance(data, dict):
        raise typer.BadParameter(f"{path} must hold a mapping of block fields")
    return data


def _refuse_options_of_other_types(
    block_type: str, given: dict[str, bool], options: ParsedFlags, command: list[str] | None
) -> None:
    """A one-line error (exit 2) for an option that ``block_type`` would ignore."""
    for attribute, (spelling, types) in _SAVE_OPTION_TYPES.items():
        if block_type not in types and given[attribute]:
            raise BlockError(f"{spelling} is for {' and '.join(types)} blocks, not {block_type}")
    if block_type in INFRA_TYPES:
        return
    for flag in flags_of(SAVE):
        if is_given(getattr(options, flag.attribute)):
            raise BlockError(f"{flag.spellings[0]} is for infrastructure blocks, not {block_type}")
    if command:
        raise BlockError(f"a command is for infrastructure blocks, not {block_type}")


@block_app.command("save")
@with_flags(SAVE)
def save(
    block_type: str = typer.Argument(
        ...,
        metavar="TYPE",
        help="process, docker-container, kubernetes-job, docker-registry or kubernetes-cluster-config.",
    ),
    block_name: str = typer.Argument(..., metavar="NAME", help="Lowercase letters, digits and dashes."),
    command: Optional[list[str]] = typer.Argument(None, help="The command (after --), for infrastructure."),
    *,
    file: Optional[Path] = typer.Option(
        None, "--file", "-f", help="Read the block's fields from a JSON/YAML file (- for stdin)."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a block saved under NAME."),
    image: Optional[str] = typer.Option(
        None, "--image", help="Image, for docker-container and kubernetes-job."
    ),
    from_file: Optional[Path] = typer.Option(
        None, "--from-file", help="kubeconfig file, for kubernetes-cluster-config."
    ),
    context: Optional[str] = typer.Option(
        None, "--context", help="kubeconfig context, for kubernetes-cluster-config."
    ),
    username: Optional[str] = typer.Option(None, "--username", help="For docker-registry."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="For docker-registry: read the password from stdin."
    ),
    registry_url: Optional[str] = typer.Option(None, "--registry-url", help="For docker-registry."),
    reauth: Optional[bool] = typer.Option(
        None,
        "--reauth/--no-reauth",
        help="For docker-registry: log in again even when Docker already holds credentials.",
        show_default=False,
    ),
    options: ParsedFlags,
) -> None:
    """Save a block under NAME, from flags or from a file.

    Examples:

      launchbay block save process hello -e GREETING=hi -- sh -c 'echo $GREETING'

      launchbay block save docker-container web --image busybox:1.36 --mem-limit 256m

      echo "$PASSWORD" | launchbay block save docker-registry my-reg --username me --password-stdin --registry-url localhost:5000

      launchbay block save kubernetes-cluster-config dev --from-file ~/.kube/config --context dev
    """
    from launchbay.blocks.core import Block

    cls = Block.block_class_for(block_type)
    given = {
        "image": image is not None,
        "from_file": from_file is not None,
        "context": context is not None,
        "username": username is not None,
        "password_stdin": password_stdin,
        "registry_url": registry_url is not None,
        "reauth": reauth is not None,
    }
    _refuse_options_of_other_types(block_type, given, options, command)
    if file is not None:
        mixed = [name for name, was_given in given.items() if was_given]
        mixed += [flag.spellings[0] for flag in flags_of(SAVE) if is_given(getattr(options, flag.attribute))]
        if command:
            mixed.append("a command")
        if mixed:
            raise typer.BadParameter(
                "--file holds the whole block: put "
                + ", ".join(
                    name if name.startswith(("-", "a ")) else "--" + name.replace("_", "-") for name in mixed
                )
                + " in the file, or save from flags without --file"
            )
    block: Block
    if file is not None:
        data = _read_document(file)
        block = (
            cls.from_document(data)
            if "data" in data and "block_type_slug" in data
            else cls.model_validate(data)
        )
    elif block_type in INFRA_TYPES:
        kind = INFRA_TYPES[block_type]
        if image is not None:  # only docker-container and kubernetes-job get here with one
            if is_given(getattr(options, kind)):
                raise BlockError(f"give --image or --{kind}, not both")
            setattr(options, kind, image)
        block = _infrastructure_block(block_type, options, command)
    elif block_type == "kubernetes-cluster-config":
        from launchbay.blocks.kubernetes import KubernetesClusterConfig

        block = KubernetesClusterConfig.from_file(path=from_file, context_name=context)
    elif block_type == "docker-registry":
        password = sys.stdin.read().rstrip("\n") if password_stdin else None
        if password_stdin and not password:
            raise typer.BadParameter("--password-stdin read an empty password", param_hint="--password-stdin")
        if not (username and password is not None and registry_url):
            raise typer.BadParameter("docker-registry needs --username, --password-stdin and --registry-url")
        fields: dict[str, Any] = {"username": username, "password": password, "registry_url": registry_url}
        if reauth is not None:
            fields["reauth"] = reauth
        block = cls(**fields)
    else:
        block = cls()
    reference = block.save(block_name, overwrite=overwrite)
    console.info(f"saved {reference}")


def _infrastructure_block(block_type: str, options: ParsedFlags, command: list[str] | None) -> Infrastructure:
    """The block the flags describe; of ``block_type``'s kind (its default image
    and all) when no flag chooses one."""
    infrastructure = build_infrastructure(options, command, default_kind=INFRA_TYPES[block_type])
    if infrastructure.get_block_type_slug() != block_type:
        raise typer.BadParameter(
            f"the flags describe a {infrastructure.get_block_type_slug()} block, not {block_type}"
        )
    return infrastructure


@block_app.command("load")
def load(reference: str = typer.Argument(..., metavar="TYPE/NAME")) -> None:
    """Print a saved block as a JSON document (secrets masked); `save --file` reads it back."""
    from launchbay.blocks.core import Block

    block = Block.load(reference)
    print(json.dumps(block.to_document(), indent=2))


@block_app.command("ls")
def ls(
    block_type: Optional[str] = typer.Argument(None, metavar="[TYPE]", help="Only blocks of this type."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List saved blocks."""
    from launchbay.blocks.core import Block
    from launchbay.blocks.store import open_store

    if block_type:
        Block.block_class_for(block_type)  # a clear error for an unknown type
    saved = open_store().list(block_type)
    if as_json:
        print(
            json.dumps([{"type": s.type_slug, "name": s.name, "updated": s.updated} for s in saved], indent=2)
        )
        return
    if not saved:
        console.info("no blocks saved yet; see `launchbay block save --help`")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None)
    table.add_column("TYPE/NAME")
    table.add_column("UPDATED")
    for item in saved:
        table.add_row(item.reference, item.updated[:19].replace("T", " "))
    Console().print(table)


@block_app.command("inspect")
def inspect_block(
    reference: str = typer.Argument(..., metavar="TYPE/NAME"),
    as_json: bool = typer.Option(
        False, "--json", help="Print JSON (with the block's type and capabilities)."
    ),
) -> None:
    """Show a saved block's fields (secrets masked)."""
    from launchbay.blocks.core import Block

    block = Block.load(reference)
    document = block.to_document()
    info = {
        "reference": reference,
        "type": block.get_block_type_name(),
        "capabilities": block.get_block_capabilities(),
        "data": document["data"],
    }
    if as_json:
        print(json.dumps(info, indent=2))
        return
    import yaml

    print(f"{reference}  ({info['type']}; capabilities: {', '.join(info['capabilities']) or 'none'})")
    print(yaml.safe_dump(document["data"], sort_keys=False, default_flow_style=False).rstrip())


@block_app.command("rm")
def rm(references: list[str] = typer.Argument(..., metavar="TYPE/NAME...")) -> None:
    """Remove saved blocks."""
    from launchbay.blocks.core import Block

    for reference in references:
        Block.delete(reference)
        console.info(f"removed {reference}")
