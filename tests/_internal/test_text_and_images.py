import subprocess
import sys

import pytest

from launchbay._internal.images import default_image, parse_image_tag
from launchbay._internal.text import slugify, stable_hash


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("busybox", ("busybox", None)),
        ("busybox:1.36", ("busybox", "1.36")),
        ("host:5000/name:tag", ("host:5000/name", "tag")),
        ("host:5000/name", ("host:5000/name", None)),
        ("host:5000/org/name:v1.2", ("host:5000/org/name", "v1.2")),
        ("name@sha256:" + "a" * 64, ("name@sha256:" + "a" * 64, None)),
        ("host:5000/name@sha256:" + "b" * 64, ("host:5000/name@sha256:" + "b" * 64, None)),
    ],
)
def test_parse_image_tag(reference: str, expected: tuple[str, str | None]) -> None:
    assert parse_image_tag(reference) == expected


def test_default_image_names_version_and_python() -> None:
    python = f"python{sys.version_info.major}.{sys.version_info.minor}"
    assert default_image("1.2.3") == f"launchbay/launchbay:1.2.3-{python}"
    assert default_image("1.3.0.dev4") == f"launchbay/launchbay:dev-{python}"
    assert default_image("1.3.0+g12ab") == f"launchbay/launchbay:dev-{python}"


def test_slugify_with_custom_pattern_and_length() -> None:
    assert slugify("flow*run") == "flow-run"
    assert slugify("Infra9.-foo_bar^x", allowed="a-z0-9", lowercase=True) == "infra9-foo-bar-x"
    assert slugify("a" * 80, max_length=63) == "a" * 63
    assert slugify("--x--", strip="-") == "x"


def test_stable_hash_is_stable_across_processes() -> None:
    here = stable_hash("echo", "hello")
    there = subprocess.run(
        [
            sys.executable,
            "-c",
            "from launchbay._internal.text import stable_hash; print(stable_hash('echo', 'hello'))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert here == there and len(here) == 8
    assert stable_hash("ab", "c") != stable_hash("a", "bc")
