"""The flag table: consistent with itself, with ParsedFlags and with the blocks
whose fields its flags set."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest

from launchbay.cli.flags import (
    DOCKER,
    EVERY_KIND,
    FLAGS,
    KUBERNETES,
    PROCESS,
    REPEATED,
    RUN,
    SWITCH,
    VALUE,
    FlagError,
    ParsedFlags,
    PathValue,
    is_given,
    key_values,
)


def test_parsed_flags_declares_exactly_the_tables_flags_with_their_types() -> None:
    # A path flag is typed for both parsers: typer gives a Path, the fast path the text.
    hints = typing.get_type_hints(ParsedFlags, localns={"Path": Path})
    expected: dict[str, object] = {}
    for flag in FLAGS:
        if flag.form == SWITCH:
            expected[flag.attribute] = bool
        elif flag.form == REPEATED:
            expected[flag.attribute] = list[flag.value_type]  # type: ignore[name-defined]
        elif flag.value_type is PathValue:
            expected[flag.attribute] = str | Path | None
        else:
            expected[flag.attribute] = flag.value_type | None
    assert hints == expected


def test_spellings_are_unique_and_well_formed() -> None:
    spellings = [spelling for flag in FLAGS for spelling in flag.spellings]
    assert len(spellings) == len(set(spellings))
    for flag in FLAGS:
        assert flag.form in (SWITCH, VALUE, REPEATED)
        assert flag.spellings[0] == "--" + flag.attribute.replace("_", "-")
        assert all(s.startswith("--") or (len(s) == 2 and s[0] == "-") for s in flag.spellings)
        assert (flag.metavar is None) == (flag.form == SWITCH), flag


def test_fast_flags_are_flags_of_a_plain_process_run() -> None:
    for flag in FLAGS:
        if flag.fast:
            assert RUN in flag.commands and PROCESS in flag.kinds, flag
            # nothing the fast path could misread: click's FLOAT is Python's float()
            assert flag.value_type in (str, PathValue, float), flag


@pytest.mark.parametrize("kind", EVERY_KIND)
def test_each_flags_field_is_a_field_of_its_kinds_block(kind: str) -> None:
    from launchbay.infrastructure.container import DockerContainer
    from launchbay.infrastructure.kubernetes import KubernetesJob
    from launchbay.infrastructure.process import Process

    block = {PROCESS: Process, DOCKER: DockerContainer, KUBERNETES: KubernetesJob}[kind]
    for flag in FLAGS:
        if flag.field is not None and kind in flag.kinds:
            assert flag.field in block.model_fields, (flag, block)


# A value of each flag whose fields differ by kind (the table gives it no field).
_SAMPLES: dict[str, object] = {"cpus": 1.5, "memory": "512m"}


@pytest.mark.parametrize("kind", [DOCKER, KUBERNETES])
def test_flags_without_a_field_set_the_kinds_block_fields_through_its_conversions(kind: str) -> None:
    from launchbay.cli import docker_options, kubernetes_options
    from launchbay.cli.fields import FieldValues
    from launchbay.infrastructure.container import DockerContainer
    from launchbay.infrastructure.kubernetes import KubernetesJob

    block, conversions = {
        DOCKER: (DockerContainer, docker_options.CONVERSIONS),
        KUBERNETES: (KubernetesJob, kubernetes_options.CONVERSIONS),
    }[kind]
    container_flags = [
        flag
        for flag in FLAGS
        if flag.field is None and kind in flag.kinds and set(flag.kinds) <= {DOCKER, KUBERNETES}
    ]
    assert {flag.attribute for flag in container_flags} == set(_SAMPLES)
    for flag in container_flags:
        values = conversions[flag.attribute](_SAMPLES[flag.attribute])
        assert isinstance(values, FieldValues) and values, flag
        assert set(values) <= set(block.model_fields), (flag, block)
        block(**values)  # values the block takes


def test_defaults_are_fresh_and_not_given() -> None:
    one, two = ParsedFlags(), ParsedFlags()
    one.env.append("A=1")
    assert two.env == []
    assert not any(is_given(value) for value in vars(two).values())
    with pytest.raises(TypeError, match="not flags of the table: nope"):
        ParsedFlags(nope=1)


def test_is_given() -> None:
    assert [is_given(v) for v in (None, False, "", [], 0, "x", ["a"], True)] == [
        False,
        False,
        False,
        False,
        True,
        True,
        True,
        True,
    ]


def test_key_values() -> None:
    assert key_values(["A=1", "B=x=y", "C="], "--env") == {"A": "1", "B": "x=y", "C": ""}
    assert key_values(["A"], "--env", allow_unset=True) == {"A": None}
    with pytest.raises(FlagError, match="--label 'A' needs a value"):
        key_values(["A"], "--label")
    with pytest.raises(FlagError, match="--env '=x' needs a KEY"):
        key_values(["=x"], "--env", allow_unset=True)
