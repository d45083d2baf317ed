"""The infrastructure the flags of ``run``/``preview``/``block save`` describe."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from launchbay.cli import docker_options, kubernetes_options
from launchbay.cli.fields import Conversion, block_fields
from launchbay.cli.flags import DOCKER, KUBERNETES, PROCESS, FlagError, ParsedFlags, key_values
from launchbay.exceptions import BlockError

if TYPE_CHECKING:
    from launchbay.infrastructure.base import Infrastructure

INFRA = "infra"  # a saved block, of any kind


def _labels(items: list[str]) -> dict[str, str]:
    return {key: value or "" for key, value in key_values(items, "--label").items()}


# The flags every kind shares, as block fields.
COMMON_CONVERSIONS: dict[str, Conversion] = {
    "env": lambda items: key_values(items, "--env", allow_unset=True),
    "label": _labels,
    "no_stream": lambda _: False,  # stream_output
}


def parse_parameters(items: list[str]) -> dict[str, Any]:
    """``--param KEY=VALUE`` items: VALUE is JSON when it parses, else the text."""
    parameters: dict[str, Any] = {}
    for key, value in key_values(items, "--param").items():
        assert value is not None
        try:
            parameters[key] = json.loads(value)
        except ValueError:
            parameters[key] = value
    return parameters


def kind_of(options: ParsedFlags, default: str = PROCESS) -> str:
    """The kind the flags choose (``infra`` for a saved block); ``default`` when none."""
    chosen = [
        name
        for name, given in (
            (INFRA, options.infra),
            (PROCESS, options.process),
            (DOCKER, options.docker),
            (KUBERNETES, options.kubernetes),
        )
        if given
    ]
    if len(chosen) > 1:
        raise FlagError(
            "choose one of --infra, --process, --docker and --kubernetes, not "
            + " and ".join(f"--{name}" for name in chosen)
        )
    return chosen[0] if chosen else default


def load_infrastructure_block(reference: str) -> Infrastructure:
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


def _from_saved_block(reference: str, common: dict[str, Any]) -> Infrastructure:
    """The saved block with the shared flags applied (env and labels merged in)."""
    base = load_infrastructure_block(reference)
    update = dict(common)
    if "env" in update:
        update["env"] = {**base.env, **update["env"]}
    if "labels" in update:
        update["labels"] = {**base.labels, **update["labels"]}
    return type(base).model_validate({**base.model_dump(), **update})


def build_infrastructure(
    options: ParsedFlags, command: list[str] | None, *, default_kind: str = PROCESS
) -> Infrastructure:
    """The infrastructure the flags describe, prepared for a flow run if --flow;
    of ``default_kind`` when no flag chooses one."""
    kind = kind_of(options, default_kind)
    extra: dict[str, Any] = {"command": list(command)} if command else {}
    infrastructure: Infrastructure
    if kind == INFRA:
        assert options.infra
        infrastructure = _from_saved_block(
            options.infra, {**block_fields(options, None, COMMON_CONVERSIONS), **extra}
        )
    elif kind == DOCKER:
        fields = block_fields(options, DOCKER, {**COMMON_CONVERSIONS, **docker_options.CONVERSIONS})
        infrastructure = docker_options.docker_container({**fields, **extra})
    elif kind == KUBERNETES:
        fields = block_fields(options, KUBERNETES, {**COMMON_CONVERSIONS, **kubernetes_options.CONVERSIONS})
        infrastructure = kubernetes_options.kubernetes_job({**fields, **extra})
    else:
        from launchbay.infrastructure.process import Process

        infrastructure = Process(**block_fields(options, PROCESS, COMMON_CONVERSIONS), **extra)
    if options.flow:
        from launchbay.models import FlowRun

        flow_run = FlowRun(entrypoint=options.flow, parameters=parse_parameters(options.param))
        infrastructure = infrastructure.prepare_for_flow_run(flow_run)
    elif options.param:
        raise FlagError("--param goes with --flow")
    return infrastructure
