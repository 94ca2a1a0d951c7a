import copy
import json
from typing import Any

import pytest
from pydantic import BaseModel, SecretStr

from cerbero_mcp.common.redaction import (
    MASK,
    SAFE_KEYS,
    SENSITIVE_KEY_PATTERN,
    is_sensitive_key,
    redact,
    redact_headers,
    redact_url,
)

SECRET = "s3cr3t-value-that-must-not-leak"


@pytest.mark.parametrize(
    "key",
    [
        "token",
        "access_token",
        "accessToken",
        "refresh_token",
        "secret",
        "client_secret",
        "api_secret",
        "password",
        "PASSWORD",
        "passwd",
        "passphrase",
        "signature",
        "sign",
        "X-BAPI-SIGN",
        "api_key",
        "apiKey",
        "APIKEY",
        "X-Api-Key",
        "private_key",
        "privateKey",
        "key",
        "cookie",
        "Set-Cookie",
        "Authorization",
        "proxy-authorization",
        "lst",
        "live_session_token",
        "credentials",
        "mnemonic",
    ],
)
def test_sensitive_key_value_is_masked(key: str) -> None:
    assert redact({key: SECRET}) == {key: MASK}
    assert SENSITIVE_KEY_PATTERN.search(key.lower()) is not None


@pytest.mark.parametrize(
    "key",
    ["symbol", "instrument", "instrument_name", "side", "qty", "price", "order_type", "client_order_id"],
)
def test_harmless_key_is_kept(key: str) -> None:
    assert redact({key: "BTC-PERP"}) == {key: "BTC-PERP"}


def test_safe_keys_are_never_masked_even_if_a_fragment_matches() -> None:
    assert "bot_tag" in SAFE_KEYS
    assert all(not is_sensitive_key(k) for k in SAFE_KEYS)
    assert all(not is_sensitive_key(k.upper()) for k in SAFE_KEYS)


def test_nested_structures_are_redacted_at_every_depth() -> None:
    value = {
        "order": {"symbol": "BTCUSDT", "auth": {"api_key": SECRET, "nonce": 1}},
        "legs": [{"price": 1.5, "signature": SECRET}, ("x", {"password": SECRET})],
        "ids": {1, 2},
    }
    out = redact(value)
    assert out["order"] == {"symbol": "BTCUSDT", "auth": MASK}
    assert out["legs"][0] == {"price": 1.5, "signature": MASK}
    assert out["legs"][1] == ("x", {"password": MASK})
    assert sorted(out["ids"]) == [1, 2]
    assert SECRET not in json.dumps(out, default=str)


def test_sensitive_key_masks_whole_value_whatever_its_type() -> None:
    assert redact({"secret": {"a": 1}, "token": [1, 2], "key": None, "sign": 7}) == {
        "secret": MASK,
        "token": MASK,
        "key": MASK,
        "sign": MASK,
    }


def test_input_is_not_mutated() -> None:
    value: dict[str, Any] = {"a": {"api_key": SECRET}, "b": [{"token": SECRET}]}
    before = copy.deepcopy(value)
    out = redact(value)
    assert value == before
    assert out["a"] is not value["a"]
    assert out["b"][0] is not value["b"][0]


def test_non_string_keys_and_scalars() -> None:
    assert redact({1: "x", None: "y"}) == {1: "x", None: "y"}
    assert redact("plain") == "plain"
    assert redact(3.5) == 3.5
    assert redact(None) is None


def test_secret_types_and_pydantic_models_are_masked() -> None:
    class Creds(BaseModel):
        client_id: str
        client_secret: str

    assert redact(SecretStr(SECRET)) == MASK
    assert redact({"whatever": SecretStr(SECRET)}) == {"whatever": MASK}
    assert redact({"creds": [Creds(client_id="abc", client_secret=SECRET)]}) == {
        "creds": [{"client_id": "abc", "client_secret": MASK}]
    }


def test_redact_headers_drops_sensitive_headers() -> None:
    headers = {
        "Authorization": f"Bearer {SECRET}",
        "cookie": f"session={SECRET}",
        "Set-Cookie": SECRET,
        "X-Api-Key": SECRET,
        "X-MBX-APIKEY": SECRET,
        "X-BAPI-SIGN": SECRET,
        "Content-Type": "application/json",
        "X-Request-Id": "req-1",
        "X-Bot-Tag": "bot-a",
    }
    assert redact_headers(headers) == {
        "Content-Type": "application/json",
        "X-Request-Id": "req-1",
        "X-Bot-Tag": "bot-a",
    }


def test_redact_url_masks_sensitive_query_params_and_userinfo() -> None:
    url = f"https://user:{SECRET}@example.com/api/v2/public/auth?client_id=abc&client_secret={SECRET}&n=1"
    out = redact_url(url)
    assert SECRET not in out
    assert "client_id=abc" in out
    assert "client_secret=***" in out
    assert "n=1" in out
    assert out.startswith("https://***@example.com/api/v2/public/auth?")
    assert redact_url("https://example.com/x") == "https://example.com/x"


def test_redact_url_masks_the_whole_userinfo() -> None:
    assert redact_url(f"https://{SECRET}@example.com/api") == "https://***@example.com/api"
    assert redact_url(f"https://{SECRET}:@example.com:8443/api") == "https://***@example.com:8443/api"
    assert redact_url("https://[::1/x") == "***"
