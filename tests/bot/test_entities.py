"""Entities the bot reads with the regexes and lookup tables of data/nlu/entities.yml, run through
Rasa's RegexEntityExtractor configured as in bot/config.yml (no model training needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.extractors.regex_entity_extractor import RegexEntityExtractor
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.message import Message

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def extractor(tmp_path_factory: pytest.TempPathFactory) -> RegexEntityExtractor:
    pipeline = yaml.safe_load((REPO_ROOT / "bot/config.yml").read_text())["pipeline"]
    [config] = [step for step in pipeline if step["name"] == "RegexEntityExtractor"]
    component = RegexEntityExtractor.create(
        {**RegexEntityExtractor.get_default_config(), **config},
        LocalModelStorage(tmp_path_factory.mktemp("storage")),
        Resource("regex_entities"),
        ExecutionContext(GraphSchema({}), "test"),
    )
    component.train(load_data(str(REPO_ROOT / "data/nlu")))
    return component


def entities(extractor: RegexEntityExtractor, text: str) -> list[tuple[str, str]]:
    [message] = extractor.process([Message(data={"text": text})])
    return [(e["entity"], e["value"]) for e in message.get("entities", [])]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the app is only where the customer looks: the device at fault is the hub
        ("the hub shows offline in the app", [("device_name", "hub")]),
        ("my doorbell camera is offline in the Lumen app", [("device_name", "doorbell camera")]),
        ("on the app the thermostat says 30 degrees", [("device_name", "thermostat")]),
        # the app is the thing at fault
        ("the app keeps crashing", [("device_name", "app")]),
        ("the Lumen Home app won't load", [("device_name", "Lumen Home app")]),
        ("order LH-12345678 never came", [("order_number", "LH-12345678")]),
    ],
)
def test_devices_and_references(extractor, text, expected) -> None:
    assert entities(extractor, text) == expected
