#!/usr/bin/env bash
# Every check: the locked environment, lint, format, types, the generated .env.example, the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
# uv from PATH, else installed into .uv/ by scripts/uv.sh (works on Debian's externally managed Python).
bash scripts/uv.sh --version >/dev/null
export PATH="$PWD/.uv/bin:$PATH"
uv sync --frozen
uv run ruff check src tests scripts
uv run ruff format --check src tests scripts
uv run mypy
uv run python scripts/gen_env_example.py --check
# Two workers (pytest-xdist), one test file per worker at a time (module fixtures are built once): the suite
# takes ~11 min serially and ~7 on two cores. Run one file serially with `uv run pytest path`.
uv run pytest -q -p no:cacheprovider -n 2 --dist loadfile
