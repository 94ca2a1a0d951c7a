"""Shared building blocks: errors, upstream transport, audit, logging and the quant library."""
