"""Cerbero MCP: one gateway for trading bots and LLM agents to reach real markets."""

__version__ = "0.1.0"
