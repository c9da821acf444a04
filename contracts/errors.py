"""The one error a contract check raises; each side turns it into its own HTTP answer."""

from __future__ import annotations

MISSING = "missing_field"
INVALID = "invalid_field"


class ContractError(ValueError):
    """A message that does not fit its contract.

    `field` is the dotted path of the first bad value (`transcript[0].author_name`, "" for the
    message itself), `problem` the sentence saying what is wrong, `missing` whether the value
    is absent (a 400 on the service, not a 422), `code` the machine-readable reason.
    """

    def __init__(
        self, field: str, problem: str, *, missing: bool = False, code: str | None = None
    ) -> None:
        super().__init__(f"{field}: {problem}" if field else problem)
        self.field = field
        self.problem = problem
        self.missing = missing
        self.code = code or (MISSING if missing else INVALID)

    def within(self, at: str) -> ContractError:
        """The same error for a value found at `at` inside a larger message."""
        if not at:
            return self
        inner = self.field if self.field.startswith("[") or not self.field else f".{self.field}"
        return ContractError(at + inner, self.problem, missing=self.missing, code=self.code)
