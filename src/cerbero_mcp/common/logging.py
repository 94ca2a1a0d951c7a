"""JSON logs: one object per line, so a log shipper needs no parsing rules."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object; a message that already is JSON is merged in."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as a JSON line."""
        base: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
        }
        message = record.getMessage()
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            base.update(fields)
            base.setdefault("message", message)
        else:
            base["message"] = message
        if record.exc_info and record.levelno >= logging.ERROR:
            base["exception"] = self.formatException(record.exc_info)
        return json.dumps(base, default=str, separators=(",", ":"))


def configure_logging(level: str = "INFO") -> None:
    """Send every log record to stderr as JSON at `level`."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # uvicorn's access log would duplicate `mcp.request` without its fields.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
