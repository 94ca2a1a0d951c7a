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


def _dockerfile_env() -> dict[str, str]:
    """Return the runtime stage's ENV as a mapping (the one multi-line `ENV a=b \\` instruction)."""
    text = (ROOT / "Dockerfile").read_text()
    runtime = text[text.index("AS runtime") :]
    block = runtime[runtime.index("\nENV ") + 5 :]
    pairs: dict[str, str] = {}
    for line in block.splitlines():
        name, _, value = line.strip().rstrip("\\").strip().partition("=")
        pairs[name] = value.strip('"')
        if not line.rstrip().endswith("\\"):
            return pairs
    return pairs


def _env_example() -> dict[str, str]:
    lines = (ROOT / ".env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def test_the_data_dir_is_the_volume_and_audit_is_not_set_by_the_image() -> None:
    image_env = _dockerfile_env()
    assert "AUDIT_LOG_FILE" not in image_env  # a blank AUDIT_LOG_FILE= in .env must not be needed to override it
    assert image_env["DATA_DIR"] == "/app/data"
    assert 'VOLUME ["/app/data"]' in (ROOT / "Dockerfile").read_text()
    service = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["cerbero-mcp"]
    volume_targets = [volume.split(":", 1)[1] for volume in service["volumes"]]
    assert service["environment"]["DATA_DIR"] in volume_targets


def test_compose_as_documented_audits_into_the_volume() -> None:
    from cerbero_mcp.settings import Settings

    service = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["cerbero-mcp"]
    # What the container sees: the image's ENV, overridden by env_file (.env copied from .env.example),
    # overridden by the service's `environment`.
    seen = {**_dockerfile_env(), **_env_example(), **{k: str(v) for k, v in service["environment"].items()}}
    assert seen["AUDIT_LOG_FILE"] == ""
    settings = Settings.from_mapping({k: v for k, v in seen.items() if "$" not in v and k != "PATH"})
    assert settings.audit_path == Path("/app/data/audit.jsonl")
    assert settings.state_db == Path("/app/data/state.db")
