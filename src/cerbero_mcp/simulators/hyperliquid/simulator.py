"""Loopback fake of Hyperliquid's HTTP API on the shared simulation engine.

Written from hyperliquid.gitbook.io (for-developers/api: info-endpoint, exchange-endpoint,
signing, nonces-and-api-wallets, tick-and-lot-size, error-responses, rate-limits), never from our
client. Everything is `POST` JSON to `/info` (unsigned queries, `info.py`) or `/exchange` (signed
actions, `exchange_api.py`); any other path or method is 404.

- Envelopes: /info answers the bare JSON value; /exchange answers `{"status": "ok", "response":
  {...}}` or, for a refused action, HTTP 200 `{"status": "err", "response": "<text>"}`; a body that
  does not deserialize is HTTP 422 with plain text.
- Auth: the signer is recovered from the action as received, for this instance's chain (source
  "a" on the mainnet instance, "b" on testnet), and must be the account or its API wallet.
- Rate limits (`limits.py`): 1200 weight per minute per IP (HTTP 429; candles, fills and funding
  rows add weight per item answered) and the per-address action budget; both obey
  `app.state.venue.rate_limit` (the test stack's "rate limits disabled" switch).

Every request first brings the engine up to the clock, then runs at that one pinned instant.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from eth_account import Account
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cerbero_mcp.simulators.engine import SimulatorConfig, SimulatorSpec
from cerbero_mcp.simulators.engine.clock import PinnedClock
from cerbero_mcp.simulators.hyperliquid.exchange_api import ExchangeApi, batch_length
from cerbero_mcp.simulators.hyperliquid.info import InfoApi, extra_weight, weight
from cerbero_mcp.simulators.hyperliquid.limits import IpLimit
from cerbero_mcp.simulators.hyperliquid.market import HyperliquidMarket
from cerbero_mcp.simulators.hyperliquid.trading import Trading
from cerbero_mcp.simulators.hyperliquid.wire import ActionError, BadRequest, encode, err

JSON = "application/json"


class HyperliquidVenue:
    """One simulator instance: market, account, verification, limits and the two endpoints."""

    def __init__(self, config: SimulatorConfig, *, rate_limit: bool = True) -> None:
        """Build the market and the funded account as of the config's clock."""
        self.config = config
        self.rate_limit = rate_limit
        self.mainnet = config.env == "mainnet"
        self.clock = PinnedClock(config.clock)
        creds = dict(config.credentials)
        self.account = creds["wallet_address"].lower()
        agents = {creds["api_wallet_address"].lower()} if creds.get("api_wallet_address") else set()
        self.market = HyperliquidMarket(config.seed, config.clock.now())
        self.trading = Trading(self.market, self.clock)
        self.info = InfoApi(self.market, self.trading, self.account)
        self.exchange = ExchangeApi(self.market, self.trading, account=self.account, agents=agents,
                                    mainnet=self.mainnet)  # fmt: skip
        self.exchange.rate_limit = lambda: self.rate_limit
        self.info.rate_limit_cap = lambda: self.exchange.address_limit.cap(self.trading.volume)
        self.info.requests_used = lambda: self.exchange.address_limit.used
        self.ip = IpLimit()
        self.lock = threading.RLock()

    def serve(self, method: str, path: str, body: bytes, client: str) -> tuple[int, bytes, str]:
        """Answer one request: (HTTP status, body, media type)."""
        with self.lock:
            now = self.clock.pin()
            try:
                if method != "POST" or path not in ("/info", "/exchange"):
                    return 404, b"", "text/plain"
                try:
                    parsed: Any = json.loads(body) if body else None
                except ValueError:
                    raise BadRequest("Failed to parse the request body as JSON", 400) from None
                if self.rate_limit:
                    cost = weight(parsed) if path == "/info" and isinstance(parsed, dict) else 1
                    if path == "/exchange" and isinstance(parsed, dict):
                        cost = 1 + batch_length(parsed.get("action")) // 40
                    if not self.ip.take(client, cost, now):
                        return 429, b"null", JSON
                self.trading.advance(now)
                if path == "/info":
                    answer = self.info.serve(parsed, now)
                    if self.rate_limit:
                        self.ip.charge(client, extra_weight(parsed, answer), now)
                    return 200, encode(answer), JSON
                try:
                    return 200, encode(self.exchange.serve(parsed, now)), JSON
                except ActionError as exc:
                    return 200, encode(err(exc.message)), JSON
            except BadRequest as exc:
                return exc.status, exc.message.encode(), "text/plain"
            except Exception as exc:  # a simulator bug: a 500 the venue could also send, never a hang
                return 500, f"internal error: {type(exc).__name__}".encode(), "text/plain"
            finally:
                self.clock.release()


def build_app(config: SimulatorConfig, *, rate_limit: bool = True) -> Starlette:
    """Return the Hyperliquid simulator for one instance (`app.state.venue` is its `HyperliquidVenue`)."""
    venue = HyperliquidVenue(config, rate_limit=rate_limit)

    async def endpoint(request: Request) -> Response:
        body = await request.body()
        client = request.client.host if request.client is not None else "local"
        status, payload, media = venue.serve(request.method, request.url.path, body, client)
        return Response(payload, status_code=status, media_type=media)

    app = Starlette(routes=[Route("/{path:path}", endpoint, methods=["GET", "POST", "PUT", "DELETE"])])
    app.state.venue = venue
    return app


# --- the harness's view -------------------------------------------------------------------------


def _credentials(env: str) -> dict[str, str]:
    """Return a fresh account and API wallet: the gateway signs with the API wallet's key."""
    del env
    owner = Account.create()
    agent = Account.create()
    return {
        "wallet_address": owner.address,
        "api_wallet_address": agent.address,
        "private_key": agent.key.hex() if agent.key.hex().startswith("0x") else "0x" + agent.key.hex(),
        # the account's own key (not handed to the gateway): tests sign with it to show it also works
        "account_private_key": "0x" + owner.key.hex().removeprefix("0x"),
    }


def _overrides(env: str, url: str, creds: dict[str, str]) -> dict[str, str]:
    suffix = "TESTNET" if env == "testnet" else "LIVE"
    return {
        f"HYPERLIQUID_URL_{suffix}": url,
        f"HYPERLIQUID_WALLET_ADDRESS_{suffix}": creds["wallet_address"],
        f"HYPERLIQUID_API_WALLET_ADDRESS_{suffix}": creds["api_wallet_address"],
        f"HYPERLIQUID_PRIVATE_KEY_{suffix}": creds["private_key"],
    }


SPEC = SimulatorSpec(venue="hyperliquid", build_app=build_app, settings_overrides=_overrides, credentials=_credentials)
