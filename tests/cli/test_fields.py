"""Block fields from the flags given, through the flag table."""

from __future__ import annotations

from pathlib import Path

import pytest

from launchbay.cli import docker_options, kubernetes_options
from launchbay.cli.fields import FieldValues, NotForThisKind, block_fields
from launchbay.cli.flags import DOCKER, KUBERNETES, PROCESS, FlagError, ParsedFlags


def test_block_fields_of_a_kind_and_of_every_kind() -> None:
    docker = ParsedFlags(docker="img", name="n", pull="never", volume=["/a:/b"])
    assert block_fields(docker, DOCKER, {"pull": str.upper}) == {
        "image": "img",
        "name": "n",
        "image_pull_policy": "NEVER",
        "volumes": ["/a:/b"],
    }
    assert block_fields(docker, DOCKER, {})["volumes"] is not docker.volume
    assert block_fields(ParsedFlags(name="n", working_dir=Path("/w")), PROCESS, {}) == {
        "name": "n",
        "working_dir": Path("/w"),
    }
    assert block_fields(ParsedFlags(name="n", namespace="ns"), KUBERNETES, {}) == {
        "name": "n",
        "namespace": "ns",
    }
    # A saved block of any kind: only the flags every kind shares.
    assert block_fields(ParsedFlags(name="n", pull="never", namespace="ns"), None, {}) == {"name": "n"}


@pytest.mark.parametrize(
    ("options", "kind", "message"),
    [
        (ParsedFlags(working_dir=Path("/w")), DOCKER, "--working-dir is for process runs, not docker"),
        (ParsedFlags(namespace="ns"), DOCKER, "--namespace is for kubernetes runs, not docker"),
        (ParsedFlags(pull="never"), KUBERNETES, "--pull is for docker runs, not kubernetes"),
        (ParsedFlags(shm_size="64m"), KUBERNETES, "--shm-size is for docker runs, not kubernetes"),
        (ParsedFlags(cpus=1.0), PROCESS, "--cpus is for docker and kubernetes runs, not process"),
    ],
)
def test_a_flag_the_kind_would_ignore_is_refused(options: ParsedFlags, kind: str, message: str) -> None:
    with pytest.raises(NotForThisKind) as caught:
        block_fields(options, kind, {})
    assert str(caught.value) == message


def test_a_conversion_may_set_fields_of_its_own_choosing() -> None:
    options = ParsedFlags(cpus=1.5, memory="512m")
    conversions = {
        "cpus": lambda value: FieldValues(cpu_request=str(value), cpu_limit=str(value)),
        "memory": lambda value: FieldValues(memory_limit=value),
    }
    assert block_fields(options, KUBERNETES, conversions) == {
        "cpu_request": "1.5",
        "cpu_limit": "1.5",
        "memory_limit": "512m",
    }
    # Without a conversion, a flag with no field of its own sets nothing.
    assert block_fields(options, KUBERNETES, {}) == {}


def test_two_flags_that_set_one_field_are_refused() -> None:
    options = ParsedFlags(docker="img", memory="1g", mem_limit="2g")
    with pytest.raises(FlagError, match="--memory and --mem-limit both set mem_limit: give one of them"):
        block_fields(options, DOCKER, docker_options.CONVERSIONS)


def test_the_resource_flags_of_each_kind() -> None:
    options = ParsedFlags(cpus=0.5, memory="1536m", gpus="2")
    assert block_fields(options, DOCKER, docker_options.CONVERSIONS) == {
        "cpus": 0.5,
        "mem_limit": "1536m",
        "gpus": "2",
    }
    assert block_fields(options, KUBERNETES, kubernetes_options.CONVERSIONS) == {
        "cpu_request": "500m",
        "cpu_limit": "500m",
        "memory_request": "1536Mi",
        "memory_limit": "1536Mi",
        "gpus": 2,
    }
    assert block_fields(ParsedFlags(shm_size="64m", memory="1000"), DOCKER, docker_options.CONVERSIONS) == {
        "mem_limit": 1000,
        "shm_size": "64m",
    }
