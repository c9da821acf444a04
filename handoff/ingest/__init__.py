"""Ingestion of Rasa's event stream: sources (`sources/`) -> `mapping` (pure) -> `sink` (store)."""
