"""Contracts shared by the bot side and the handoff service (standard library only)."""
