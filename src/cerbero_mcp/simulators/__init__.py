"""Loopback simulators of every venue, and the shared engine behind them.

Nothing in production imports this package (a test enforces it): only the demo entry point
(`cerbero_mcp.demo`), the tests and the benches do. Each `simulators/<venue>/` is written from the
venue's own documentation, never from our client, so that a misunderstanding of the venue cannot be
shared by both sides of a test.
"""
