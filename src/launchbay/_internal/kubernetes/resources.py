"""What a ``KubernetesJob``'s resource and placement fields may hold, checked
before anything is sent: Kubernetes quantities (``500m``, ``1.5``, ``512Mi``,
``2G``, ``1e3``), requests no larger than limits, and tolerations with the
keys and values the API accepts. Pure; no client library.

The quantity grammar is Kubernetes' own (``resource.Quantity`` in
apimachinery): the client library's ``parse_quantity`` would do, but importing
any part of the ``kubernetes`` package loads all of it, which a block's
validation must not.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

# <number><suffix>: a number (digits, digits.digits, digits. or .digits) with a
# binary SI suffix (Ki..Ei), a decimal SI one (m, k, M..E, none), or an exponent.
_QUANTITY = re.compile(
    r"(?P<number>\+?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?"
)
_BINARY = {f"{prefix}i": Decimal(1024) ** (power + 1) for power, prefix in enumerate("KMGTPE")}
_DECIMAL = {"m": Decimal("0.001")} | {
    prefix: Decimal(1000) ** (power + 1) for power, prefix in enumerate("kMGTPE")
}
QUANTITY_EXAMPLES = "e.g. 500m, 1.5, 512Mi, 2Gi, 1G"

TOLERATION_KEYS = ("key", "operator", "value", "effect", "tolerationSeconds")
TOLERATION_OPERATORS = ("Exists", "Equal")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
GPU_RESOURCE = "nvidia.com/gpu"


def parse_quantity(text: str) -> Decimal:
    """The value of a Kubernetes quantity (``512Mi`` -> 536870912); ValueError
    when ``text`` is not one (or is negative: no resource can be)."""
    match = _QUANTITY.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a Kubernetes quantity")
    number = Decimal(match["number"])
    suffix = match["suffix"] or ""
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    if suffix in _DECIMAL:
        return number * _DECIMAL[suffix]
    if suffix:
        try:
            return number.scaleb(int(suffix[1:]))
        except (InvalidOperation, OverflowError):
            raise ValueError(f"{text!r} is not a Kubernetes quantity") from None
    return number


def quantity(field: str, value: object) -> str | None:
    """A quantity field's value as sent (a number becomes its text); a
    ValueError naming ``field`` otherwise."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"{field}: {value!r} is not a Kubernetes quantity ({QUANTITY_EXAMPLES})")
    text = value if isinstance(value, str) else _number_text(value)
    try:
        parse_quantity(text)
    except ValueError:
        raise ValueError(f"{field}: {text!r} is not a Kubernetes quantity ({QUANTITY_EXAMPLES})") from None
    return text


def _number_text(value: int | float) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def check_request_within_limit(kind: str, request: str | None, limit: str | None) -> None:
    """Kubernetes refuses a request above its limit: say so before sending."""
    if request is None or limit is None:
        return
    if parse_quantity(request) > parse_quantity(limit):
        raise ValueError(
            f"{kind}_request ({request}) must not be more than {kind}_limit ({limit}): "
            "Kubernetes refuses a request above its limit"
        )


def toleration(index: int, value: object) -> dict[str, Any]:
    """One toleration, checked as the API would check it; a copy."""
    where = f"tolerations[{index}]"
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}: must be a mapping with keys {', '.join(TOLERATION_KEYS)}")
    unknown = [str(key) for key in value if key not in TOLERATION_KEYS]
    if unknown:
        hint = " (Kubernetes spells it tolerationSeconds)" if "toleration_seconds" in unknown else ""
        raise ValueError(
            f"{where}: unknown key(s) {', '.join(sorted(unknown))}{hint}; "
            f"a toleration has {', '.join(TOLERATION_KEYS)}"
        )
    for key in ("key", "operator", "value", "effect"):
        if key in value and not isinstance(value[key], str):
            raise ValueError(f"{where}.{key}: must be a string, not {value[key]!r}")
    operator = value.get("operator", "Equal")
    if operator not in TOLERATION_OPERATORS:
        raise ValueError(f"{where}.operator: must be Exists or Equal, not {operator!r}")
    if operator == "Exists" and value.get("value"):
        raise ValueError(f"{where}: a toleration with operator Exists has no value")
    if not value.get("key") and operator != "Exists":
        raise ValueError(f"{where}: a toleration without a key must have operator Exists")
    effect = value.get("effect")
    if effect and effect not in TAINT_EFFECTS:
        raise ValueError(f"{where}.effect: must be one of {', '.join(TAINT_EFFECTS)}, not {effect!r}")
    if "tolerationSeconds" in value:
        seconds = value["tolerationSeconds"]
        if isinstance(seconds, bool) or not isinstance(seconds, int):
            raise ValueError(f"{where}.tolerationSeconds: must be a whole number of seconds, not {seconds!r}")
        if effect != "NoExecute":
            raise ValueError(f"{where}: tolerationSeconds needs effect NoExecute")
    return dict(value)


def resource_requirements(
    *,
    cpu_request: str | None,
    cpu_limit: str | None,
    memory_request: str | None,
    memory_limit: str | None,
    gpus: int | None,
) -> dict[str, dict[str, str]]:
    """The container's ``resources`` the fields ask for (only what is set), as
    the API echoes them (quantities as strings)."""
    requests: dict[str, str] = {}
    limits: dict[str, str] = {}
    if cpu_request is not None:
        requests["cpu"] = cpu_request
    if memory_request is not None:
        requests["memory"] = memory_request
    if cpu_limit is not None:
        limits["cpu"] = cpu_limit
    if memory_limit is not None:
        limits["memory"] = memory_limit
    if gpus:  # extended resources are limits (Kubernetes sets the request equal)
        limits[GPU_RESOURCE] = str(gpus)
    return {name: values for name, values in (("requests", requests), ("limits", limits)) if values}
