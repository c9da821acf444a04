"""Rasa SDK custom actions for the Lumen Home care bot."""
