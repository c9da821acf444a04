import asyncio
from pathlib import Path

from connectors.common.seen import SeenMessages


async def test_a_message_id_is_new_only_once(tmp_path: Path) -> None:
    seen = SeenMessages(tmp_path / "state.sqlite3")
    assert await seen.first_time("whatsapp", "wamid.1")
    assert not await seen.first_time("whatsapp", "wamid.1")
    assert await seen.first_time("whatsapp", "wamid.2")


async def test_ids_are_per_channel(tmp_path: Path) -> None:
    seen = SeenMessages(tmp_path / "state.sqlite3")
    assert await seen.first_time("whatsapp", "m-1")
    assert await seen.first_time("messenger", "m-1")


async def test_seen_ids_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "state.sqlite3"
    assert await SeenMessages(path).first_time("whatsapp", "wamid.1")
    assert not await SeenMessages(path).first_time("whatsapp", "wamid.1")


async def test_concurrent_retries_let_exactly_one_through(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    results = await asyncio.gather(
        *(SeenMessages(path).first_time("whatsapp", "wamid.same") for _ in range(8))
    )
    assert results.count(True) == 1
