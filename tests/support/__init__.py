"""Test-only helpers shared by unit and integration tests."""
