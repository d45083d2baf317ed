"""CPUs, shared memory, GPUs and the user of a container (SPEC 15): what is
accepted, and what ``docker run`` would send for it."""

from __future__ import annotations

import pytest

from launchbay._internal.docker import resources


@pytest.mark.parametrize(
    ("cpus", "nano"), [(1, 10**9), (1.5, 1_500_000_000), (0.1, 100_000_000), (0.3, 300_000_000)]
)
def test_cpus_as_nano_cpus_exactly(cpus: float, nano: int) -> None:
    assert resources.check_cpus(cpus) == cpus
    assert resources.nano_cpus(cpus) == nano


@pytest.mark.parametrize("cpus", [0, -1, 1e-10, float("nan"), float("inf"), True, "2"])
def test_cpus_that_are_refused(cpus: object) -> None:
    with pytest.raises(ValueError, match="cpus must be a number of CPUs"):
        resources.check_cpus(cpus)  # type: ignore[arg-type]


@pytest.mark.parametrize(("given", "accepted"), [(1, 1), (8, 8), ("2", 2), ("all", "all"), (" ALL ", "all")])
def test_gpus(given: object, accepted: object) -> None:
    assert resources.check_gpus(given) == accepted


@pytest.mark.parametrize("given", [0, -1, True, "some", "1.5", 1.5, None])
def test_gpus_that_are_refused(given: object) -> None:
    with pytest.raises(ValueError, match="gpus must be a number of GPUs above 0, or 'all'"):
        resources.check_gpus(given)


def test_the_gpu_request_docker_run_sends() -> None:
    assert resources.gpu_request("all") == {
        "Driver": "",
        "Count": -1,
        "DeviceIDs": None,
        "Capabilities": [["gpu"]],
        "Options": {},
    }
    assert resources.gpu_request(3)["Count"] == 3


@pytest.mark.parametrize(
    ("size", "size_bytes"), [("64m", 64 << 20), (1000, 1000), ("1g", 1 << 30), ("2Gi", 2 << 30)]
)
def test_shm_sizes(size: int | str, size_bytes: int) -> None:
    assert resources.check_shm_size(size) == size
    assert resources.shm_bytes(size) == size_bytes


@pytest.mark.parametrize(
    ("size", "message"), [("0", "must be above 0"), ("lots", "expected a number of bytes"), (-5, "negative")]
)
def test_shm_sizes_that_are_refused(size: int | str, message: str) -> None:
    with pytest.raises(ValueError, match=f"Invalid shm size .*{message}"):
        resources.check_shm_size(size)


@pytest.mark.parametrize("user", ["1000", "app", "1000:1000", "app:staff"])
def test_users(user: str) -> None:
    assert resources.check_user(user) == user


@pytest.mark.parametrize("user", ["", " ", "a b"])
def test_users_that_are_refused(user: str) -> None:
    with pytest.raises(ValueError, match="user must be a user name or id"):
        resources.check_user(user)
