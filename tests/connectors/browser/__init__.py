"""Headless Chromium tests of the web chat widget (run with .venv-handoff, which has selenium)."""
