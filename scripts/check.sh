#!/usr/bin/env bash
# Every check: the locked environment, lint, format, types, the generated .env.example, the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet uv
uv sync --frozen
uv run ruff check src tests scripts
uv run ruff format --check src tests scripts
uv run mypy
uv run python scripts/gen_env_example.py --check
uv run pytest -q -p no:cacheprovider
