"""Mask secrets in structured data before it reaches the audit log, the logs or a recording.

The rule is deliberately blunt: a mapping key whose lower-cased name *contains* one of the
fragments of `SENSITIVE_KEY_PATTERN` has its whole value replaced by `"***"`, whatever that value
is (a string, a number, a nested object). Substring matching over-masks harmless names
("signal" contains "sign", a Hyperliquid spot "token" name is masked, "key_id" is masked); a
masked harmless value costs a little audit detail, a leaked key costs an account, so that is the
side we err on. `SAFE_KEYS` lists exact names that are never masked: the identifiers an audit
reader needs. None of them matches today; the list guards against a future fragment hiding them.

`SecretStr`/`SecretBytes` values are masked wherever they appear. Free text is not scanned:
a token pasted inside a message string is the caller's problem.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, SecretBytes, SecretStr

MASK: Final = "***"

SENSITIVE_KEY_PATTERN: Final = re.compile(
    "token|secret|passw|passphrase|pwd|signature|sign|api_?key|key|cookie|auth|lst|private|credential|mnemonic",
    re.IGNORECASE,
)
"""Fragments that make a key (or header, or query parameter) name sensitive, matched anywhere."""

SAFE_KEYS: Final = frozenset({"client_order_id", "bot_tag", "instrument", "symbol"})
"""Exact lower-cased names that are never masked, even if a fragment above matches them."""


@functools.lru_cache(maxsize=4096)
def is_sensitive_key(name: object) -> bool:
    """Return whether a key, header or parameter name must have its value masked."""
    lowered = str(name).lower()
    return lowered not in SAFE_KEYS and SENSITIVE_KEY_PATTERN.search(lowered) is not None


_PLAIN: Final = (str, int, float, type(None))


def redact(value: Any) -> Any:
    """Return a deep copy of `value` with the values of sensitive keys replaced by `"***"`.

    Mappings become dicts, lists stay lists, tuples stay tuples, sets become lists; pydantic
    models are dumped to JSON-mode dicts first. Other values (scalars, unknown objects) are
    returned as they are, except secret types, which are masked.
    """
    # Cheapest checks first: this runs on every audited call and every recorded request.
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, dict | Mapping):
        return {k: MASK if is_sensitive_key(k) else redact(v) for k, v in value.items()}
    if isinstance(value, list | set | frozenset):
        return [redact(v) for v in value]
    if isinstance(value, tuple):
        return tuple(redact(v) for v in value)
    if isinstance(value, SecretStr | SecretBytes):
        return MASK
    if isinstance(value, BaseModel):
        return redact(value.model_dump(mode="json"))
    return value


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Return the headers without the sensitive ones (Authorization, Cookie, X-Api-Key, signatures…)."""
    return {name: value for name, value in headers.items() if not is_sensitive_key(name)}


def redact_url(url: str) -> str:
    """Return `url` with its userinfo (user and password) and the values of sensitive query parameters masked."""
    try:
        parts = urlsplit(url)
    except ValueError:
        # Unparseable (a bad IPv6 literal): show nothing of it rather than risk a credential.
        return MASK
    if "@" in parts.netloc:
        # The user part is often a key itself (https://<api-key>@host), so all of it goes.
        parts = parts._replace(netloc=f"{MASK}@{parts.netloc.rpartition('@')[2]}")
    if parts.query:
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        masked = [(k, MASK if is_sensitive_key(k) else v) for k, v in pairs]
        parts = parts._replace(query=urlencode(masked, safe="*"))
    return urlunsplit(parts)
