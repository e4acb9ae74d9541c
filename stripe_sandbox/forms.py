"""Stripe's nested form encoding, and typed access to the decoded parameters.

The SDK flattens nested parameters into bracketed keys (``line_items[0][price_data][unit_amount]=5000``,
``metadata[booking_id]=b1``, ``expand[0]=line_items``); booleans travel as ``true``/``false`` and numbers as
decimal strings. :func:`parse_form` rebuilds the nested structure; the ``*_param`` helpers read one value and
raise the same ``invalid_request_error`` Stripe would, naming the offending parameter with its bracketed path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from stripe_sandbox.errors import StripeError

# A key is a head followed by zero or more bracketed segments: ``a[b][0][]``.
_KEY_RE = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_SEGMENT_RE = re.compile(r"\[([^\[\]]*)\]")

# Stripe caps metadata at 50 keys of 40 characters with values of 500 characters.
_METADATA_MAX_KEYS = 50
_METADATA_MAX_KEY_LEN = 40
_METADATA_MAX_VALUE_LEN = 500


def parse_form(body: str | bytes) -> dict[str, Any]:
    """Decode an ``application/x-www-form-urlencoded`` body (or query string) into nested dicts and lists.

    Dicts whose keys are exactly ``0..n-1`` become lists, because that is how the SDK encodes arrays. Blank
    values are kept as ``""``: Stripe uses them to mean "unset", and the helpers below treat them as absent.
    """
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    root: dict[str, Any] = {}
    for raw_key, value in parse_qsl(text, keep_blank_values=True):
        match = _KEY_RE.match(raw_key)
        if match is None:
            raise StripeError(f"Invalid parameter name: {raw_key}", param=raw_key)
        path = [match.group(1), *_SEGMENT_RE.findall(match.group(2))]
        _assign(root, path, value, raw_key)
    result = _listify(root)
    if not isinstance(result, dict):
        # Only a body of purely numeric top-level keys (``0=a&1=b``) gets here; Stripe has no such params.
        raise StripeError("Invalid request: parameter names must not be bare numbers.")
    return result


def _assign(root: dict[str, Any], path: list[str], value: str, raw_key: str) -> None:
    node = root
    for index, segment in enumerate(path):
        last = index == len(path) - 1
        if segment == "":
            # ``a[]=x`` appends; store it under the next free numeric index so listify sees a dense array.
            segment = str(sum(1 for key in node if key.isdigit()))
        if last:
            # Repeated keys: the last one wins, as in most form decoders (and Stripe).
            node[segment] = value
            return
        child = node.get(segment)
        if child is None:
            child = {}
            node[segment] = child
        elif not isinstance(child, dict):
            raise StripeError(f"Invalid parameter: {raw_key} mixes a value and a hash", param=raw_key)
        node = child


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {key: _listify(value) for key, value in node.items()}
    if converted and all(key.isdigit() for key in converted):
        indexes = sorted(int(key) for key in converted)
        if indexes == list(range(len(indexes))):
            return [converted[str(i)] for i in indexes]
    return converted


def _present(value: Any) -> bool:
    return value is not None and value != ""


def get_path(params: Mapping[str, Any], path: str) -> Any:
    """Read a bracketed path like ``payment_intent_data[transfer_data][destination]`` (``None`` if absent)."""
    match = _KEY_RE.match(path)
    if match is None:
        return None
    node: Any = params
    for segment in [match.group(1), *_SEGMENT_RE.findall(match.group(2))]:
        if isinstance(node, Mapping):
            node = node.get(segment)
        elif isinstance(node, list) and segment.isdigit() and int(segment) < len(node):
            node = node[int(segment)]
        else:
            return None
    return node


def str_param(params: Mapping[str, Any], path: str, *, required: bool = False) -> str | None:
    """A string parameter; blank counts as absent."""
    value = get_path(params, path)
    if not _present(value):
        if required:
            raise StripeError(f"Missing required param: {path}.", code="parameter_missing", param=path)
        return None
    if not isinstance(value, str):
        raise StripeError(f"Invalid string: {path} must be a string", param=path)
    return value


def int_param(
    params: Mapping[str, Any],
    path: str,
    *,
    required: bool = False,
    minimum: int | None = None,
) -> int | None:
    """An integer parameter, validated as Stripe does (``Invalid integer: x``)."""
    raw = str_param(params, path, required=required)
    if raw is None:
        return None
    try:
        value = int(raw, 10)
    except ValueError:
        raise StripeError(f"Invalid integer: {raw}", param=path) from None
    if minimum is not None and value < minimum:
        kind = "positive integer" if minimum == 1 else "non-negative integer"
        raise StripeError(f"Invalid {kind}: {path} must be at least {minimum}", param=path)
    return value


def bool_param(params: Mapping[str, Any], path: str, *, default: bool = False) -> bool:
    """A boolean parameter as the SDK encodes it (``true``/``false``)."""
    raw = str_param(params, path)
    if raw is None:
        return default
    lowered = raw.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise StripeError(f"Invalid boolean: {raw}", param=path)


def enum_param(
    params: Mapping[str, Any], path: str, allowed: tuple[str, ...], *, default: str | None = None
) -> str | None:
    """A string restricted to ``allowed``; Stripe's message lists the accepted values."""
    raw = str_param(params, path)
    if raw is None:
        return default
    if raw not in allowed:
        choices = ", ".join(f"`{choice}`" for choice in allowed)
        raise StripeError(f"Invalid {path}: must be one of {choices}", param=path)
    return raw


def metadata_param(params: Mapping[str, Any], path: str = "metadata") -> dict[str, str]:
    """Metadata as a flat string map, with Stripe's size limits; blank values drop the key."""
    raw = get_path(params, path)
    if raw is None or raw == "":
        return {}
    if isinstance(raw, list):
        # ``metadata[0]=x`` decodes as a list; metadata keys are strings, so turn it back into a map.
        raw = {str(i): value for i, value in enumerate(raw)}
    if not isinstance(raw, dict):
        raise StripeError("Invalid hash", param=path)
    result: dict[str, str] = {}
    for key, value in raw.items():
        if not isinstance(value, str):
            raise StripeError(f"Invalid value for {path}[{key}]: must be a string", param=f"{path}[{key}]")
        if len(key) > _METADATA_MAX_KEY_LEN:
            raise StripeError(
                f"Metadata keys must be at most {_METADATA_MAX_KEY_LEN} characters.", param=f"{path}[{key}]"
            )
        if len(value) > _METADATA_MAX_VALUE_LEN:
            raise StripeError(
                f"Metadata values must be at most {_METADATA_MAX_VALUE_LEN} characters.",
                param=f"{path}[{key}]",
            )
        if value != "":
            result[key] = value
    if len(result) > _METADATA_MAX_KEYS:
        raise StripeError(f"Metadata can have at most {_METADATA_MAX_KEYS} keys.", param=path)
    return result


def list_param(params: Mapping[str, Any], path: str) -> list[Any]:
    """An array parameter (``a[0]``, ``a[1]``...); a missing one is an empty list."""
    raw = get_path(params, path)
    if raw is None or raw == "":
        return []
    if isinstance(raw, list):
        return raw
    if isinstance(raw, str):
        # A lone scalar (``expand=line_items``) is accepted as a one-element array, as Stripe does.
        return [raw]
    raise StripeError(f"Invalid array: {path}", param=path)
