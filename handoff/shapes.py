"""Validated shapes for what reaches the store from outside (Rasa events, intake bodies).

Every value that ends up in a column is checked against that column here: string lengths,
whole numbers a column can hold, times a datetime can hold, text a database can encode (no NUL,
which PostgreSQL refuses, no lone surrogates). A value that does not fit is an `InvalidInput`
naming the field, never a database error later.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
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

from contracts.errors import ContractError
from contracts.values import parse_time, storable

AuthorType = Literal["customer", "bot", "agent", "system"]
event_time = parse_time  # a Rasa event timestamp (epoch seconds) or ISO-8601 string, as UTC


class InvalidInput(ContractError):
    """Input that does not fit the store; `field` is the dotted path of the first bad value."""

    def __init__(self, field: str, problem: str, missing: bool = False) -> None:
        super().__init__(field, problem, missing=missing)

    @classmethod
    def from_validation(cls, error: ValidationError) -> InvalidInput:
        first = error.errors(include_url=False, include_input=False)[0]
        field = "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in first["loc"]
        ).lstrip(".")
        cause = (first.get("ctx") or {}).get("error")
        if isinstance(cause, ContractError):  # a contract's own check (`contract_checked`)
            inner = cause.within(field)
            return cls(inner.field, inner.problem, missing=inner.missing)
        problem = first["msg"].removeprefix("Value error, ")
        return cls(field, problem, missing=first["type"] == "missing")


def Chars(max_length: int | None = None, min_length: int = 0) -> StringConstraints:
    """Length bounds for `Annotated[str, Chars(...), Storable]`: the column's size."""
    return StringConstraints(strict=True, min_length=min_length, max_length=max_length)


Storable = AfterValidator(storable)
# A string any Text column can store; strict: no other type is turned into one.
Clean = Annotated[str, Chars(), Storable]


def contract_checked(parse: Callable[[Any], Any]) -> PlainValidator:
    """A field checked by the contract's own `from_json` (null stays None)."""
    return PlainValidator(lambda value: None if value is None else parse(value))


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
