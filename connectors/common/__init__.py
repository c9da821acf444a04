"""Helpers shared by every channel connector (signatures, idempotency, delivery, markers)."""
