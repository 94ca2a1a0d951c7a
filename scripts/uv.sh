#!/usr/bin/env bash
# Run uv with the given arguments: the uv on PATH, else .uv/bin/uv, installed there first with
# `python3 -m pip install --target .uv uv`. An install into a target directory touches no system
# package, so PEP 668 allows it on Debian/Ubuntu's externally managed system Python (where
# `pip install uv` and `pip install --user uv` are refused); it works the same in a venv or pyenv.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
if command -v uv >/dev/null 2>&1; then
    exec uv "$@"
fi
if [ ! -x "$root/.uv/bin/uv" ]; then
    echo "uv is not on PATH: installing it into $root/.uv with pip" >&2
    python3 -m pip install --quiet --disable-pip-version-check --target "$root/.uv" uv
fi
exec "$root/.uv/bin/uv" "$@"
