import pytest

from connectors.common.markers import author_of, mark_bot_text


@pytest.mark.parametrize(
    ("marker", "expected"),
    [("🤖 ", "🤖 Hello"), ("", "Hello"), (None, "Hello"), ("[bot] ", "[bot] Hello")],
)
def test_bot_text_is_marked_when_a_marker_is_set(marker: str | None, expected: str) -> None:
    assert mark_bot_text("Hello", marker) == expected


def test_bot_text_is_not_marked_twice() -> None:
    assert mark_bot_text("🤖 Hello", "🤖 ") == "🤖 Hello"


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        (None, "bot"),
        ({}, "bot"),
        ({"author_type": "agent"}, "agent"),
        ({"author_type": "system"}, "system"),
        ({"author_type": "customer"}, "bot"),
    ],
)
def test_author_of(metadata: dict | None, expected: str) -> None:
    assert author_of(metadata) == expected
