"""Validated shapes for what reaches the store from outside (Rasa events, intake bodies).

Every value that ends up in a column is checked against that column here: string lengths,
whole numbers a column can hold, times a datetime can hold, text a database can encode (no NUL,
which PostgreSQL refuses, no lone surrogates). A value that does not fit is an `InvalidInput`
naming the field, never a database error later.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StringConstraints,
    ValidationError,
)

AuthorType = Literal["customer", "bot", "agent", "system"]


class InvalidInput(ValueError):
    """Input that does not fit the store; `field` is the dotted path of the first bad value."""

    def __init__(self, field: str, problem: str, missing: bool = False) -> None:
        super().__init__(f"{field}: {problem}" if field else problem)
        self.field = field
        self.problem = problem
        self.missing = missing

    @classmethod
    def from_validation(cls, error: ValidationError) -> InvalidInput:
        first = error.errors(include_url=False, include_input=False)[0]
        field = "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in first["loc"]
        ).lstrip(".")
        problem = first["msg"].removeprefix("Value error, ")
        return cls(field, problem, missing=first["type"] == "missing")


def _storable(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (no lone surrogates)") from None
    return value


def Chars(max_length: int | None = None, min_length: int = 0) -> StringConstraints:
    """Length bounds for `Annotated[str, Chars(...), Storable]`: the column's size."""
    return StringConstraints(strict=True, min_length=min_length, max_length=max_length)


Storable = AfterValidator(_storable)
# A string any Text column can store; strict: no other type is turned into one.
Clean = Annotated[str, Chars(), Storable]


def event_time(timestamp: Any) -> datetime:
    """A Rasa event timestamp (epoch seconds) or ISO-8601 string, as UTC, to the millisecond.

    Anything else, or a time a datetime cannot hold (`1e20`), is a ValueError.
    """
    try:
        if isinstance(timestamp, (int, float)) and not isinstance(timestamp, bool):
            if not math.isfinite(timestamp):
                raise ValueError("not a finite number")
            moment = datetime.fromtimestamp(timestamp, tz=timezone.utc)
        elif isinstance(timestamp, str) and timestamp:
            moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
            moment = (
                moment.astimezone(timezone.utc)
                if moment.tzinfo
                else moment.replace(tzinfo=timezone.utc)
            )
        else:
            raise ValueError("neither epoch seconds nor an ISO-8601 string")
    except (ValueError, OverflowError, OSError) as error:
        raise ValueError(f"not a usable time ({error}): {str(timestamp)[:40]!r}") from None
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


Time = Annotated[datetime, PlainValidator(event_time)]
Count = Annotated[int, Field(strict=True, ge=0)]


class Shape(BaseModel):
    """Strict (no coercion between types), unknown fields ignored, immutable."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


S = TypeVar("S", bound=Shape)


class FrustrationShape(Shape):
    score: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
    signals: list[Annotated[str, Chars(100), Storable]] = Field(default_factory=list, max_length=50)


def validated(shape: type[S], value: Any, at: str = "") -> S:
    """`shape.model_validate(value)`, raising `InvalidInput` instead of ValidationError; `at`
    prefixes the field's path (the value's place in a larger input)."""
    try:
        return shape.model_validate(value)
    except ValidationError as error:
        invalid = InvalidInput.from_validation(error)
        if not at:
            raise invalid from None
        field = f"{at}.{invalid.field}" if invalid.field else at
        raise InvalidInput(field, invalid.problem, invalid.missing) from None
