"""Docker files cannot be built here (no daemon): check what can be read."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_compose_names_one_service_with_env_file_port_restart_and_healthcheck() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert list(compose["services"]) == ["cerbero-mcp"]
    service = compose["services"]["cerbero-mcp"]
    assert service["env_file"] == ".env"
    assert service["restart"] == "unless-stopped"
    assert service["environment"]["PORT"] == "${PORT:-9000}"
    assert any("${PORT:-9000}" in port for port in service["ports"])
    assert "/health" in " ".join(service["healthcheck"]["test"])
    assert "PORT" in " ".join(service["healthcheck"]["test"])


def test_dockerfile_is_multi_stage_frozen_non_root_with_port_healthcheck() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert text.count("\nFROM python:3.11-slim AS ") == 2
    assert "uv sync --frozen --no-dev" in text
    assert "USER 1000:1000" in text
    healthcheck = text[text.index("HEALTHCHECK") :]
    assert "PORT" in healthcheck
    assert "/health" in healthcheck


def test_dockerignore_keeps_secrets_and_local_state_out() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".env", ".venv", ".git", "data"} <= ignored


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "scripts/check.sh" in ci
    assert "bash scripts/check.sh" in readme
    assert "pip install --quiet uv" in ci
