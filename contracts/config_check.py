"""`python -m <module> [file]` for the YAML files designers edit (welcome rules, masking rules,
the survey and thread policies): load and check one, then print what is wrong (the error names
the rule and the field) and exit 1, or a one-line summary and exit 0."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def check_file(
    argv: Sequence[str],
    default: str | Path,
    load: Callable[[Path], T],
    error: type[Exception],
    summary: Callable[[T], str],
) -> int:
    """`argv` are the arguments after the program's name: the file, or none for `default`."""
    path = Path(argv[0]) if argv else Path(default)
    try:
        loaded = load(path)
    except error as problem:
        print(problem, file=sys.stderr)
        return 1
    print(f"{path}: OK, {summary(loaded)}")
    return 0
