"""Audit record format: the fields, their order, redaction, timestamps and the HMAC over a record.

Record (one JSON object per line, ASCII, in this field order):
    ts, seq, request_id, actor, bot_tag, exchange, action, target, params, outcome, error_code,
    duration_ms, [extra caller fields, sorted], prev_hash, hash

- `ts` is UTC, ISO 8601, milliseconds, `Z`; `seq` is the record's position in the chain (1, 2, …,
  across files and restarts). Caller-supplied `ts`/`seq`/`prev_hash`/`hash` are ignored. Every
  caller field, params included, goes through `redact()` before it is hashed or stored.
- `hash` = HMAC-SHA256(key, canonical JSON of the record without `hash`), canonical meaning
  `sort_keys=True, separators=(",", ":"), ensure_ascii=False`, UTF-8. `prev_hash` is the previous
  record's `hash`, `"0" * 64` for the first record ever.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any, Final

from cerbero_mcp.common.redaction import redact

GENESIS_HASH: Final = "0" * 64
ACTORS: Final = frozenset({"testnet", "mainnet", "admin"})
OUTCOMES: Final = frozenset({"intent", "ok", "error", "refused", "unknown", "replay", "dry_run"})
RECORD_FIELDS: Final = (
    "request_id",
    "actor",
    "bot_tag",
    "exchange",
    "action",
    "target",
    "params",
    "outcome",
    "error_code",
    "duration_ms",
)
_STAMPED_FIELDS: Final = frozenset({"ts", "seq", "prev_hash", "hash"})
SYSTEM_ACTOR: Final = "system"  # records the log writes about itself; callers cannot use it
TORN_ACTION: Final = "audit.torn_write_recovered"
GAP_ACTION: Final = "audit.gap"


def utcnow() -> datetime:
    """Return the current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def format_ts(moment: datetime) -> str:
    """Format a datetime as the audit timestamp: UTC, milliseconds, `Z` suffix."""
    return as_utc(moment).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def compute_hash(key: bytes, record: Mapping[str, Any]) -> str:
    """Return the HMAC-SHA256 hex digest of the canonical JSON of `record` without its `hash`."""
    body = {k: v for k, v in record.items() if k != "hash"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hmac.new(key, canonical.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def system_record(
    now: datetime, action: str, target: str, params: dict[str, Any], outcome: str, error_code: str | None
) -> dict[str, Any]:
    """Return a record the log writes about itself (not validated: its actor is reserved)."""
    return _layout(
        {
            "request_id": "audit",
            "actor": SYSTEM_ACTOR,
            "bot_tag": None,
            "exchange": None,
            "action": action,
            "target": target,
            "params": params,
            "outcome": outcome,
            "error_code": error_code,
            "duration_ms": None,
        },
        ts=format_ts(now),
    )


def normalize(record: Mapping[str, Any]) -> dict[str, Any]:
    """Validate, order and redact a caller record; return it JSON-native, without ts/hashes."""
    actor, outcome, action = record.get("actor"), record.get("outcome"), record.get("action")
    if actor not in ACTORS:
        raise ValueError(f"audit actor must be one of {sorted(ACTORS)}, got {actor!r}")
    if outcome not in OUTCOMES:
        raise ValueError(f"audit outcome must be one of {sorted(OUTCOMES)}, got {outcome!r}")
    if not isinstance(action, str) or not action:
        raise ValueError("audit action must be a non-empty string")
    return _layout(record)


def _layout(record: Mapping[str, Any], ts: str | None = None) -> dict[str, Any]:
    """Order and redact a record's fields: ts, seq, the record fields, sorted extras."""
    body: dict[str, Any] = {"ts": ts, "seq": None}
    body.update({name: record.get(name) for name in RECORD_FIELDS})
    extras = sorted(((str(k), v) for k, v in record.items() if k not in RECORD_FIELDS), key=lambda kv: kv[0])
    body.update((k, v) for k, v in extras if k not in _STAMPED_FIELDS)
    # Round-trip so the stored record is exactly what a reader parses back (str keys, lists,
    # unknown types as str): otherwise the hash could not be recomputed from the file.
    normalized: dict[str, Any] = json.loads(json.dumps(redact(body), default=str))
    return normalized


def parse_object(raw: bytes) -> dict[str, Any] | None:
    """Return the JSON object on a line, or None when the line is not one."""
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def seq_of(record: Mapping[str, Any]) -> int | None:
    """Return a record's `seq`, or None when it has no integer one."""
    seq = record.get("seq")
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else None


def parse_ts(value: object) -> datetime | None:
    """Return an ISO 8601 timestamp as a UTC datetime, or None when it is not one."""
    if not isinstance(value, str):
        return None
    try:
        return as_utc(datetime.fromisoformat(value))
    except ValueError:
        return None


def record_date(record: Mapping[str, Any]) -> date | None:
    """Return the UTC date of a record's `ts`, or None when it has no valid one."""
    ts = parse_ts(record.get("ts"))
    return ts.date() if ts is not None else None


def as_utc(moment: datetime) -> datetime:
    """Return `moment` in UTC, taking a naive datetime to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
