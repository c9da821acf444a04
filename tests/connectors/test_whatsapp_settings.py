from pathlib import Path

import pytest
from rasa.core.run import create_http_input_channels

from connectors.whatsapp import WhatsAppInput
from connectors.whatsapp.settings import REQUIRED_KEYS, WhatsAppConfigError, WhatsAppSettings

CREDENTIALS = {
    "verify_token": "v",
    "app_secret": "s",
    "access_token": "a",
    "phone_number_id": "106540352242922",
    "deliver_token": "d",
}


def test_defaults() -> None:
    settings = WhatsAppSettings.from_credentials(CREDENTIALS)
    assert settings.graph_url == "https://graph.facebook.com/v21.0"
    assert settings.bot_marker == "🤖 "
    assert settings.state_path == Path("var/connectors.sqlite3")


def test_an_empty_bot_marker_turns_marking_off() -> None:
    assert WhatsAppSettings.from_credentials({**CREDENTIALS, "bot_marker": ""}).bot_marker == ""


@pytest.mark.parametrize("key", REQUIRED_KEYS)
@pytest.mark.parametrize("value", [None, "", "  "], ids=["missing", "empty", "blank"])
def test_a_missing_required_key_is_named(key: str, value: str | None) -> None:
    credentials = {**CREDENTIALS, key: value}
    with pytest.raises(WhatsAppConfigError, match=f"'{key}'"):
        WhatsAppSettings.from_credentials(credentials)


def test_rasa_builds_the_channel_from_its_class_path_in_credentials(tmp_path: Path) -> None:
    credentials_file = tmp_path / "credentials.yml"
    credentials_file.write_text(
        "connectors.whatsapp.WhatsAppInput:\n"
        + "".join(f"  {key}: {value}\n" for key, value in CREDENTIALS.items())
        + f"  state_path: {tmp_path / 'state.sqlite3'}\n"
    )
    [channel] = create_http_input_channels(None, str(credentials_file))
    assert isinstance(channel, WhatsAppInput)
    assert channel.name() == "whatsapp"
    assert channel.settings.phone_number_id == "106540352242922"
