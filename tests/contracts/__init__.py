"""Tests of the contracts shared by both environments (standard library only)."""
