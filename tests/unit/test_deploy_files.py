"""Docker files cannot be built here (no daemon): check what can be read."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_compose_names_one_service_with_env_file_port_restart_and_healthcheck() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    # The plain setup is one container: every other service is behind an opt-in profile.
    assert [name for name, svc in compose["services"].items() if not svc.get("profiles")] == ["cerbero-mcp"]
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
    # uv comes the same way everywhere: scripts/uv.sh (pip --target, allowed on an externally managed Python)
    assert "bash scripts/uv.sh" in ci
    assert "bash scripts/uv.sh" in (ROOT / "scripts" / "check.sh").read_text()
    assert "pip install --quiet" not in ci


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
    assert 'VOLUME ["/app/data", "/app/ibkr"]' in (ROOT / "Dockerfile").read_text()
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


def _readme_section(title: str) -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index(f"\n## {title}\n")
    end = readme.find("\n## ", start + 1)
    return readme[start : end if end != -1 else None]


def test_readme_quick_start_has_exactly_two_commands_demo_in_the_foreground_and_the_suite() -> None:
    section = _readme_section("Quick start")
    block = section[section.index("```bash\n") + 8 :]
    block = block[: block.index("```")]
    commands = [line.split("#", 1)[0].strip() for line in block.splitlines() if line.split("#", 1)[0].strip()]
    assert commands == ["bash scripts/uv.sh run cerbero-mcp --demo", "bash scripts/check.sh"]
    assert "foreground" in block.splitlines()[0]
    # Neither command may install uv with a bare pip: Debian's externally managed Python refuses it.
    assert not any("pip install" in command for command in commands)


def test_uv_script_installs_with_pip_target_and_never_breaks_system_packages() -> None:
    script = (ROOT / "scripts" / "uv.sh").read_text()
    assert "python3 -m pip install --quiet --disable-pip-version-check --target" in script
    assert "--break-system-packages" not in script
    assert "--user" not in script.split("set -euo pipefail", 1)[1]
    assert {".uv/", ".venv/"} <= set((ROOT / ".gitignore").read_text().split())
    assert ".uv" in (ROOT / ".dockerignore").read_text().split()


def test_compose_runs_behind_an_existing_traefik_on_cerbero_host() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    service = compose["services"]["cerbero-mcp"]
    labels = service["labels"]
    network = compose["networks"]["traefik"]
    assert network["external"] is True
    assert "traefik" in service["networks"]
    assert f"traefik.docker.network={network['name']}" in labels
    rule = next(label for label in labels if label.startswith("traefik.http.routers.cerbero-mcp.rule="))
    assert "Host(`${CERBERO_HOST" in rule
    assert any(label.startswith("traefik.http.routers.cerbero-mcp.tls.certresolver=") for label in labels)
    assert "traefik.http.services.cerbero-mcp.loadbalancer.server.port=${PORT:-9000}" in labels
    assert service["environment"]["MCP_ALLOWED_HOSTS"].startswith("${CERBERO_HOST")
    assert "CERBERO_HOST" in (ROOT / "docker-compose.yml").read_text().split("services:", 1)[0]  # the .env note
    assert "CERBERO_HOST" in _readme_section("Docker")


def test_ibkr_keys_volume_is_owned_by_the_image_user_and_the_setup_script_is_in_the_image() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    runtime = dockerfile[dockerfile.index("AS runtime") :]
    assert "useradd --uid 1000" in runtime
    assert "chown 1000:1000 /app/data /app/ibkr" in runtime
    assert 'VOLUME ["/app/data", "/app/ibkr"]' in runtime
    assert "COPY --chown=1000:1000 scripts/ibkr_oauth_setup.py ./scripts/ibkr_oauth_setup.py" in runtime
    assert runtime.index("/app/ibkr") < runtime.index("USER 1000:1000")
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert "scripts" not in ignored
    assert "scripts/ibkr_oauth_setup.py" not in ignored
    service = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["cerbero-mcp"]
    assert "cerbero-ibkr:/app/ibkr" in service["volumes"]
    assert "--dir /app/ibkr" in _readme_section("Docker")


def test_compose_replicas_profile_runs_postgres_and_two_replicas_behind_one_traefik_service() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    compose = yaml.safe_load(text)
    services = compose["services"]
    plain = services["cerbero-mcp"]
    assert "profiles" not in plain
    assert "STATE_DB" not in plain["environment"]  # the single container keeps SQLite unless .env says otherwise
    opt_in = {name for name, svc in services.items() if svc.get("profiles") == ["replicas"]}
    assert opt_in == {"postgres", "cerbero-replica-1", "cerbero-replica-2"}
    assert "--profile replicas up -d --scale cerbero-mcp=0" in text
    replicas = [services["cerbero-replica-1"], services["cerbero-replica-2"]]
    ids = [r["environment"]["REPLICA_ID"] for r in replicas]
    assert ids == ["cerbero-replica-1", "cerbero-replica-2"]
    for replica in replicas:
        env = replica["environment"]
        assert env["STATE_DB"].startswith("postgresql://")
        assert "@postgres:5432/" in env["STATE_DB"]
        assert env["REPLICA_URL"] == f"http://{replica['hostname']}:${{PORT:-9000}}"
        assert replica["hostname"] == env["REPLICA_ID"]
        assert replica["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert "cerbero-ibkr:/app/ibkr" in replica["volumes"]  # one IBKR key set for the fleet
        assert "/health" in " ".join(replica["healthcheck"]["test"])
        assert "traefik" in replica["networks"]
    # Each replica keeps its own data volume; the labels are identical, so Traefik balances one service over both.
    assert replicas[0]["volumes"][0] != replicas[1]["volumes"][0]
    assert replicas[0]["labels"] == replicas[1]["labels"]
    labels = replicas[0]["labels"]
    rule = next(label for label in labels if label.startswith("traefik.http.routers.cerbero-replicas.rule="))
    assert "Host(`${CERBERO_HOST" in rule
    assert "!PathPrefix(`/internal`)" in rule  # replica-to-replica forwarding never on the public router
    assert "traefik.http.services.cerbero-replicas.loadbalancer.healthcheck.path=/health" in labels
    assert not any("sticky" in label for label in labels)
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert {"cerbero-pg", "cerbero-data-1", "cerbero-data-2"} <= set(compose["volumes"])
