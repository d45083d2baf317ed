"""Kubernetes quantities, requests within limits, tolerations (pure)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from launchbay._internal.kubernetes import resources


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", Decimal(1)),
        ("0", Decimal(0)),
        ("1.5", Decimal("1.5")),
        (".5", Decimal("0.5")),
        ("2.", Decimal(2)),
        ("+2", Decimal(2)),
        ("500m", Decimal("0.5")),
        ("100k", Decimal(100_000)),
        ("512Mi", Decimal(512 * 2**20)),
        ("2Gi", Decimal(2 * 2**30)),
        ("1G", Decimal(10**9)),
        ("1Ei", Decimal(2**60)),
        ("129e6", Decimal(129_000_000)),
        ("1E3", Decimal(1000)),
        ("5e-3", Decimal("0.005")),
    ],
)
def test_quantities_kubernetes_accepts(text: str, value: Decimal) -> None:
    assert resources.parse_quantity(text) == value


@pytest.mark.parametrize(
    "text",
    ["12 GB", "1GB", "1gi", "Mi", "", "-1", "1.2.3", "1 Gi", "1e", "1Ki5", "one", "1mi", " 1"],
)
def test_not_quantities(text: str) -> None:
    with pytest.raises(ValueError, match="is not a Kubernetes quantity"):
        resources.parse_quantity(text)


def test_a_quantity_field_names_itself_and_takes_numbers() -> None:
    assert resources.quantity("cpu_limit", "500m") == "500m"
    assert resources.quantity("cpu_limit", 1.5) == "1.5"
    assert resources.quantity("cpu_limit", 2) == "2"
    assert resources.quantity("cpu_limit", 2.0) == "2"
    assert resources.quantity("cpu_limit", None) is None
    with pytest.raises(ValueError) as info:
        resources.quantity("memory_limit", "12 GB")
    assert str(info.value).startswith("memory_limit: '12 GB' is not a Kubernetes quantity (e.g. ")
    for wrong in (True, [1], {"a": 1}, -1):
        with pytest.raises(ValueError, match="cpu_request: .* is not a Kubernetes quantity"):
            resources.quantity("cpu_request", wrong)


def test_a_request_above_its_limit_is_refused() -> None:
    resources.check_request_within_limit("memory", "512Mi", "1Gi")
    resources.check_request_within_limit("memory", "1Gi", "1Gi")
    resources.check_request_within_limit("cpu", "1", None)
    resources.check_request_within_limit("cpu", None, "1")
    resources.check_request_within_limit("cpu", "1000m", "1")
    with pytest.raises(ValueError, match=r"cpu_request \(1500m\) must not be more than cpu_limit \(1\)"):
        resources.check_request_within_limit("cpu", "1500m", "1")
    with pytest.raises(ValueError, match="memory_request"):
        resources.check_request_within_limit("memory", "1G", "512Mi")


def test_tolerations_as_the_api_checks_them() -> None:
    good = [
        {"key": "gpu", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "team", "operator": "Equal", "value": "data", "effect": "PreferNoSchedule"},
        {"key": "team", "value": "data"},  # Equal by default
        {"operator": "Exists"},  # tolerates everything
        {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "tolerationSeconds": 30},
    ]
    for index, item in enumerate(good):
        copied = resources.toleration(index, item)
        assert copied == item and copied is not item
    bad = [
        ("not a mapping", "tolerations[0]: must be a mapping"),
        ({"key": "a", "toleration_seconds": 3}, "unknown key(s) toleration_seconds (Kubernetes spells it"),
        ({"key": "a", "colour": "x", "weight": 1}, "unknown key(s) colour, weight"),
        ({"key": "a", "operator": "In"}, "operator: must be Exists or Equal, not 'In'"),
        ({"key": "a", "operator": "Exists", "value": "x"}, "operator Exists has no value"),
        ({"value": "x"}, "without a key must have operator Exists"),
        ({"key": "a", "effect": "NoRun"}, "effect: must be one of NoSchedule, PreferNoSchedule, NoExecute"),
        ({"key": "a", "effect": "NoExecute", "tolerationSeconds": "30"}, "whole number of seconds"),
        ({"key": "a", "effect": "NoExecute", "tolerationSeconds": True}, "whole number of seconds"),
        ({"key": "a", "effect": "NoSchedule", "tolerationSeconds": 30}, "needs effect NoExecute"),
        ({"key": 1}, "tolerations[0].key: must be a string"),
    ]
    for item, message in bad:
        with pytest.raises(ValueError) as info:
            resources.toleration(0, item)
        assert message in str(info.value), (item, str(info.value))


def test_resource_requirements_only_what_is_set() -> None:
    assert (
        resources.resource_requirements(
            cpu_request=None, cpu_limit=None, memory_request=None, memory_limit=None, gpus=None
        )
        == {}
    )
    assert resources.resource_requirements(
        cpu_request="250m", cpu_limit="1", memory_request="64Mi", memory_limit="128Mi", gpus=2
    ) == {
        "requests": {"cpu": "250m", "memory": "64Mi"},
        "limits": {"cpu": "1", "memory": "128Mi", "nvidia.com/gpu": "2"},
    }
    # No GPUs: no GPU limit at all.
    assert resources.resource_requirements(
        cpu_request=None, cpu_limit=None, memory_request=None, memory_limit="1Gi", gpus=0
    ) == {"limits": {"memory": "1Gi"}}
