"""Parsing helpers every provider module shares: case-insensitive keys, lenient ids, chunking."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from .base import ProviderProtocolError

_NESTED = (dict, list)


def lower_keys(value: Any) -> Any:
    """Field names are matched case-insensitively: every object key becomes lower-case."""
    if isinstance(value, dict):
        # scalars are taken as they are, without a call each (a bulk answer has thousands)
        return {
            str(k).lower(): lower_keys(v) if isinstance(v, _NESTED) else v for k, v in value.items()
        }
    if isinstance(value, list):
        return [lower_keys(v) if isinstance(v, _NESTED) else v for v in value]
    return value


def as_str(value: Any) -> Any:
    """Providers send ids and numbers as JSON numbers or strings: keep them as strings."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return clean(value) if isinstance(value, str) else value


def clean(text: str) -> str:
    """A provider's text as one that can be stored and shown: a lone UTF-16 surrogate (valid in a
    JSON escape, not in UTF-8) becomes U+FFFD; everything else is kept."""
    if text.isascii():
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def as_text(value: Any) -> Any:
    """``as_str``, with a missing text (null) as an empty one."""
    return "" if value is None else as_str(value)


Id = Annotated[str, BeforeValidator(as_str)]
Text = Annotated[str, BeforeValidator(as_text)]


class Wire(BaseModel):
    """A provider answer after ``lower_keys``: unknown fields ignored, aliases lower-case."""

    model_config = ConfigDict(extra="ignore", populate_by_name=False, frozen=True, defer_build=True)


_M = TypeVar("_M", bound=BaseModel)


def model(account: str, cls: type[_M], value: Any) -> _M:
    try:
        return cls.model_validate(value)
    except ValidationError as exc:
        raise ProviderProtocolError(
            account, "bad_shape", f"unexpected answer shape ({cls.__name__.strip('_')})"
        ) from exc


def json_body(account: str, body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8-sig", errors="replace"))
    except ValueError as exc:
        raise ProviderProtocolError(
            account, "bad_json", "the provider's answer is not valid JSON"
        ) from exc


_T = TypeVar("_T")


def chunks(items: Sequence[_T], size: int) -> Iterable[tuple[_T, ...]]:
    for start in range(0, len(items), max(1, size)):
        yield tuple(items[start : start + size])
