"""`cerbero-mcp [--host H] [--port P] [--demo]`: serve the gateway (or the simulated demo)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from cerbero_mcp import __version__
from cerbero_mcp.settings import ConfigError, load_settings


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(prog="cerbero-mcp", description="Trading gateway for bots and LLM agents.")
    parser.add_argument("--host", help="interface to bind (default: HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default: PORT or 9000)")
    parser.add_argument(
        "--demo",
        action="store_true",
        help="serve every tool against built-in loopback simulators (simulated money, no accounts needed)",
    )
    parser.add_argument("--version", action="version", version=f"cerbero-mcp {__version__}")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the server until interrupted; return the process exit code."""
    args = parse_args(argv)
    try:
        settings = load_settings()
        if args.host:
            settings = settings.with_overrides({"HOST": args.host})
        if args.port:
            settings = settings.with_overrides({"PORT": str(args.port)})
        if args.demo:
            # Imported only when asked: the demo pulls in every venue simulator.
            from cerbero_mcp.demo import run_demo

            return run_demo(settings)
        settings.check_serving()
        # A real server never reads the demo's simulated orders or kill-switch state.
        from cerbero_mcp.demo import refuse_demo_state

        refuse_demo_state(settings)
    except ConfigError as exc:
        print(f"cerbero-mcp: configuration error: {exc}", file=sys.stderr)
        return 2
    # Imported only to serve, so a configuration error is reported without building the app's imports.
    from cerbero_mcp.serving import serve

    return serve(settings)


if __name__ == "__main__":
    sys.exit(main())
