"""The one sanitiser of third-party text (news titles, summaries, source names) and links.

News and social text is untrusted input to an LLM. It is kept as text, never interpreted: this module
removes what can hide or reorder characters (C0/C1 controls, zero-width, bidi overrides, Unicode tag
characters, every other format character), turns markup into plain text, collapses whitespace, and
bounds every length with an ellipsis. A link is kept only as an absolute http(s) URL without
credentials; anything else (javascript:, data:, relative, user@host tricks) is dropped. Nothing here
ever fetches a link.
"""

from __future__ import annotations

import html
import re
import unicodedata
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ELLIPSIS = "…"
MAX_URL_LENGTH = 2048
# Categories removed outright: Cc (C0/C1 controls, DEL), Cf (format: zero-width space/joiners, bidi
# embeddings, overrides and isolates, the invisible tag characters U+E0000..E007F, soft hyphen),
# Cs (lone surrogates), Co (private use: glyphs with no agreed meaning).
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co"})
_TAG = re.compile(r"<[^<>]{0,2000}>")
_SCHEMES = frozenset({"http", "https"})
_HOST = re.compile(r"[a-z0-9.-]{1,253}|[0-9a-f:.]{2,45}")


def _strip_invisible(text: str) -> str:
    # Whitespace controls (tab, newline, U+2028...) become spaces so words stay apart; the rest goes.
    return "".join(
        " " if ch.isspace() else ch
        for ch in text
        if ch.isspace() or unicodedata.category(ch) not in _DROPPED_CATEGORIES
    )


def bound(text: str, max_length: int) -> str:
    """Return `text` cut to at most `max_length` characters, ending with an ellipsis when cut."""
    if max_length < 1:
        raise ValueError("max_length must be at least 1")
    if len(text) <= max_length:
        return text
    return text[: max_length - 1].rstrip() + ELLIPSIS


def clean_text(value: Any, max_length: int, *, markup: bool = False) -> str | None:
    """Return third-party `value` as safe plain text of at most `max_length` characters, or None when empty.

    `markup=True` for fields that may hold HTML (article bodies): tags are dropped and entities decoded
    before the invisible characters are removed (so an entity cannot smuggle one back).
    """
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    # NFC: one spelling per character, so equal-looking titles compare equal; not NFKC, which rewrites
    # characters (ligatures, superscripts) a reader would want quoted as published.
    text = unicodedata.normalize("NFC", text)
    if markup:
        text = html.unescape(_TAG.sub(" ", text))
    text = " ".join(_strip_invisible(text).split())
    return bound(text, max_length) if text else None


def clean_url(value: Any) -> str | None:
    """Return `value` as an absolute http(s) URL without credentials, or None (never fetched)."""
    if not isinstance(value, str):
        return None
    text = _strip_invisible(unicodedata.normalize("NFC", value)).strip()
    if not text or len(text) > MAX_URL_LENGTH or any(ch.isspace() for ch in text):
        return None
    try:
        parts = urlsplit(text)
        port = parts.port  # raises on a malformed port
    except ValueError:
        return None
    if parts.scheme.lower() not in _SCHEMES or not parts.hostname:
        return None
    if parts.username is not None or parts.password is not None:
        return None  # "https://coindesk.com@evil.example/" reads as one host and goes to another
    host = parts.hostname.lower()
    if ":" not in host:
        try:
            # Punycode, so a look-alike host (Cyrillic "а" for "a") shows as the xn-- name it really is.
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    if not _HOST.fullmatch(host):
        return None
    netloc = (f"[{host}]" if ":" in host else host) + (f":{port}" if port is not None else "")
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", parts.query, parts.fragment))
