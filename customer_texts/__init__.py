"""Texts customers read that code composes (the handoff message, system notices), in the
customer's language, from the designers' file bot/texts.yml.

Pure module (PyYAML only), shared by the action server and the handoff service. The file is
checked when it is loaded: every text the code uses must be there with a text in the default
language, no unknown entry or language, and only the placeholders the code fills in. A mistake
names the file and the entry, e.g. `bot/texts.yml: handoff.reply_within (de): unknown
placeholder {minuten}; available: {minutes}`.

Run `python -m customer_texts [path]` to check a file.
"""

from __future__ import annotations

import os
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import yaml

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "bot" / "texts.yml"
PATH_ENV = "CUSTOMER_TEXTS_PATH"
T = TypeVar("T")

# Every text the code uses -> the placeholders the code fills in.
_TEAMS = ("billing", "devices", "accounts", "orders", "care")
PLACEHOLDERS: Mapping[str, frozenset[str]] = {
    "handoff.emergency": frozenset(),
    "handoff.handing_over": frozenset({"team"}),
    **{f"handoff.team.{team}": frozenset() for team in _TEAMS},
    "handoff.reply_within": frozenset({"minutes"}),
    "handoff.you_can_leave": frozenset(),
    "handoff.reply_when_available": frozenset(),
    "handoff.offline_until": frozenset({"next_open"}),
    "handoff.offline": frozenset(),
    "handoff.holiday_until": frozenset({"holiday", "next_open"}),
    "handoff.holiday": frozenset({"holiday"}),
    "handoff.not_queued": frozenset(),
    "notice.joined": frozenset({"agent", "brand"}),
    "notice.left": frozenset({"agent"}),
    "notice.closed": frozenset({"agent", "brand"}),
    "notice.mode_async": frozenset(),
    "notice.mode_sync": frozenset({"agent"}),
    "notice.auto_closed": frozenset({"days", "brand"}),
}
_TOP_KEYS = frozenset({"version", "default_language", "languages"})


class TextsError(ValueError):
    """A problem in the texts file; the message names the file and the entry."""


@dataclass(frozen=True)
class CustomerTexts:
    default_language: str
    languages: frozenset[str]
    texts: Mapping[str, Mapping[str, str]]  # entry -> language -> text

    def language_of(self, language: str | None) -> str:
        """The primary subtag of `language` ("de-DE" -> "de") if the file has it, else the
        default language."""
        primary = (language or "").strip().lower().replace("_", "-").split("-")[0]
        return primary if primary in self.languages else self.default_language

    def render(self, key: str, language: str | None, **values: Any) -> str:
        """The text `key` in `language` (or the default language), placeholders filled in."""
        by_language = self.texts[key]
        text = by_language.get(self.language_of(language)) or by_language[self.default_language]
        return text.format(**values)


def texts_path() -> Path:
    """The texts file: env CUSTOMER_TEXTS_PATH (read on each call) or bot/texts.yml."""
    return Path(os.environ.get(PATH_ENV) or DEFAULT_PATH)


def cached_until_changed(
    load: Callable[[str], T], cannot_read: Callable[[Path, OSError], Exception]
) -> Callable[[str | Path], T]:
    """`load(path)`, cached per file until its modification time or size changes (designers'
    files are re-read after an edit without a restart); `cannot_read` makes the error to raise
    when the file is not there."""

    @lru_cache(maxsize=8)
    def cached(path: str, mtime_ns: int, size: int) -> T:
        return load(path)

    def read(path: str | Path) -> T:
        path = Path(path)
        try:
            stat = path.stat()
        except OSError as exc:
            raise cannot_read(path, exc) from exc
        return cached(str(path), stat.st_mtime_ns, stat.st_size)

    return read


def load_texts(path: str | Path) -> CustomerTexts:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TextsError(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise TextsError(f"{path}: invalid YAML: {exc}") from exc
    return _parse(str(path), raw)


_read_texts = cached_until_changed(
    load_texts, lambda path, exc: TextsError(f"{path}: cannot read: {exc.strerror}")
)


def load_texts_cached(path: str | Path | None = None) -> CustomerTexts:
    """`load_texts(path or texts_path())`, re-read only when the file changed on disk."""
    return _read_texts(path or texts_path())


def _parse(name: str, raw: Any) -> CustomerTexts:
    def fail(message: str) -> TextsError:
        return TextsError(f"{name}: {message}")

    if not isinstance(raw, dict):
        raise fail("expected a mapping at the top level")
    default = raw.get("default_language")
    languages = raw.get("languages")
    if not isinstance(languages, list) or not all(isinstance(code, str) for code in languages):
        raise fail("languages: expected a list of language codes, e.g. [en, de]")
    if not isinstance(default, str) or default not in languages:
        raise fail(f"default_language: {default!r} is not one of the languages {languages}")
    entries: dict[str, dict[str, str]] = {}
    _flatten(fail, {k: v for k, v in raw.items() if k not in _TOP_KEYS}, "", entries)
    missing = sorted(set(PLACEHOLDERS) - set(entries))
    if missing:
        raise fail(f"missing texts: {', '.join(missing)}")
    for key, by_language in entries.items():
        unknown = sorted(set(by_language) - set(languages))
        if unknown:
            raise fail(f"{key}: unknown language {unknown[0]!r}; declared: {', '.join(languages)}")
        if not by_language.get(default):
            raise fail(f"{key}: needs a text in the default language {default!r}")
        allowed = PLACEHOLDERS[key]
        for language, text in by_language.items():
            used = _placeholders(fail, f"{key} ({language})", text)
            if extra := sorted(used - allowed):
                available = ", ".join(f"{{{p}}}" for p in sorted(allowed)) or "none"
                where = f"{key} ({language})"
                raise fail(f"{where}: unknown placeholder {{{extra[0]}}}; available: {available}")
    return CustomerTexts(default, frozenset(languages), entries)


def _flatten(fail: Any, node: Any, prefix: str, out: dict[str, dict[str, str]]) -> None:
    """Walks the nested sections down to the entries of PLACEHOLDERS (language -> text)."""
    if not isinstance(node, dict):
        raise fail(f"{prefix or 'top level'}: expected a mapping")
    for name, value in node.items():
        key = f"{prefix}{name}"
        if key in PLACEHOLDERS:
            if not isinstance(value, dict) or not all(
                isinstance(text, str) for text in value.values()
            ):
                raise fail(f"{key}: expected one text per language, e.g. {{en: ..., de: ...}}")
            out[key] = value
        elif any(known.startswith(f"{key}.") for known in PLACEHOLDERS):
            _flatten(fail, value, f"{key}.", out)
        else:
            raise fail(f"unknown entry {key!r}")


def _placeholders(fail: Any, where: str, text: str) -> set[str]:
    try:
        return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}
    except ValueError as exc:  # a lone "{" or "}"
        raise fail(f"{where}: {exc}; write {{{{ and }}}} for literal braces") from exc
