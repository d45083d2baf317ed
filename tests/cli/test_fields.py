"""Block fields from the flags given, through the flag table."""

from __future__ import annotations

from pathlib import Path

from launchbay.cli.fields import block_fields
from launchbay.cli.flags import DOCKER, KUBERNETES, PROCESS, ParsedFlags


def test_block_fields_of_a_kind_and_of_every_kind() -> None:
    options = ParsedFlags(
        docker="img", name="n", pull="never", volume=["/a:/b"], namespace="ns", working_dir=Path("/w")
    )
    assert block_fields(options, DOCKER, {"pull": str.upper}) == {
        "image": "img",
        "name": "n",
        "image_pull_policy": "NEVER",
        "volumes": ["/a:/b"],
    }
    assert block_fields(options, PROCESS, {}) == {"name": "n", "working_dir": Path("/w")}
    assert block_fields(options, KUBERNETES, {}) == {"name": "n", "namespace": "ns"}
    assert block_fields(options, None, {}) == {"name": "n"}  # a saved block of any kind
    assert block_fields(options, DOCKER, {})["volumes"] is not options.volume
