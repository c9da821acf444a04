"""The customer texts file: the shipped one is complete in English and German; mistakes in a
designer's edit are refused with the file and the entry named."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from customer_texts import PLACEHOLDERS, TextsError, load_texts, load_texts_cached

SHIPPED = Path(__file__).resolve().parents[2] / "bot/texts.yml"


def minimal() -> dict[str, Any]:
    """A valid file's content: every entry, each with the English text "x"."""
    content: dict[str, Any] = {"version": 1, "default_language": "en", "languages": ["en", "de"]}
    for key in PLACEHOLDERS:
        *sections, leaf = key.split(".")
        node = content
        for section in sections:
            node = node.setdefault(section, {})
        node[leaf] = {"en": "x"}
    return content


def write(tmp_path: Path, content: dict[str, Any]) -> Path:
    path = tmp_path / "texts.yml"
    path.write_text(yaml.safe_dump(content, allow_unicode=True), encoding="utf-8")
    return path


def test_the_shipped_file_has_every_text_in_english_and_german() -> None:
    texts = load_texts(SHIPPED)
    assert set(texts.texts) == set(PLACEHOLDERS)
    for key, by_language in texts.texts.items():
        assert set(by_language) == {"en", "de"}, key
        assert by_language["en"] != by_language["de"], key


def test_the_language_is_picked_by_its_primary_subtag_else_english() -> None:
    texts = load_texts(SHIPPED)

    def joined(language: str | None) -> str:
        return texts.render("notice.joined", language, agent="Dana", brand="Lumen Home")

    assert joined("de-DE") == texts.texts["notice.joined"]["de"].format(
        agent="Dana", brand="Lumen Home"
    )
    assert joined("fr") == joined(None) == joined("en") != joined("de")


def test_a_missing_translation_falls_back_to_the_default_language(tmp_path) -> None:
    texts = load_texts(write(tmp_path, minimal()))
    assert texts.render("handoff.emergency", "de") == "x"


def _set(content: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    *sections, leaf = key.split(".")
    node = content
    for section in sections:
        node = node[section]
    if value is None:
        del node[leaf]
    else:
        node[leaf] = value
    return content


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("handoff.reply_within", {"en": "in {minuten} min"},
         "handoff.reply_within (en): unknown placeholder {minuten}; available: {minutes}"),
        ("notice.left", {"de": "x"}, "notice.left: needs a text in the default language 'en'"),
        ("notice.left", {"en": "x", "fr": "x"}, "notice.left: unknown language 'fr'; declared"),
        ("notice.lft", {"en": "x"}, "unknown entry 'notice.lft'"),
        ("notice.closed", {"en": "a { b"}, "notice.closed (en):"),
        ("notice.joined", None, "missing texts: notice.joined"),
        ("default_language", "fr", "default_language: 'fr' is not one of the languages"),
    ],
)  # fmt: skip
def test_mistakes_are_refused_with_the_entry_named(tmp_path, key, value, message) -> None:
    path = write(tmp_path, _set(minimal(), key, value))
    with pytest.raises(TextsError, match=re.escape(f"{path}: {message}")):
        load_texts(path)


def test_an_edit_is_read_without_a_restart(tmp_path) -> None:
    path = write(tmp_path, minimal())
    assert load_texts_cached(path).render("notice.left", "en", agent="Dana") == "x"
    write(tmp_path, _set(minimal(), "notice.left", {"en": "{agent} left"}))
    assert load_texts_cached(path).render("notice.left", "en", agent="Dana") == "Dana left"
