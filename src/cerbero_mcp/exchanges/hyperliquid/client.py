"""Hyperliquid on the shared transport: POST /info (unsigned reads) and POST /exchange (signed actions), paced.

One method per request type or action (docstrings name them). Reads are for the account
`HYPERLIQUID_WALLET_ADDRESS`; actions are signed by `HYPERLIQUID_PRIVATE_KEY` (the API wallet
`HYPERLIQUID_API_WALLET_ADDRESS`, or the account's own key) with the SDK's pure signing function,
for the chain of this client's environment (never guessed from the URL).

Pacing (docs: rate-limits): 1200 weight per minute per IP; /exchange weighs 1 + floor(batch/40);
/info weighs 2 for l2Book, allMids, clearinghouseState, orderStatus, spotClearinghouseState and
exchangeStatus, 20 for the other types, and candleSnapshot one more per 60 candles. The weight is
taken as that many slots of one window; the window is shorter than 1200 by the heaviest request, so a
heavy call reserved near the limit never overshoots it. The per-address action budget (10,000 plus
one per USDC traded, then one per 10 s) depends on traded volume the gateway cannot see: the venue's
refusal ("Too many cumulative requests") is mapped to 429 by the error table instead.
"""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

from eth_account.signers.local import LocalAccount

from cerbero_mcp.common.errors import (
    InvalidInputError,
    NotConfiguredError,
    RateLimitError,
    UpstreamError,
)
from cerbero_mcp.common.http import UpstreamHTTP, UpstreamResponse, mark_definite, raise_for_transport_status
from cerbero_mcp.common.pacing import Limit, Pacer
from cerbero_mcp.exchanges.base import VenueClient
from cerbero_mcp.exchanges.hyperliquid.errors import to_error
from cerbero_mcp.exchanges.hyperliquid.rules import Asset
from cerbero_mcp.exchanges.hyperliquid.signing import NonceSource, exchange_body, sign, wallet_of
from cerbero_mcp.settings import Environment, Settings

IP_KEY = "ip"
IP_WEIGHT_PER_MIN = 1200
LIGHT_INFO = frozenset(
    {"l2Book", "allMids", "clearinghouseState", "orderStatus", "spotClearinghouseState", "exchangeStatus"}
)
LIGHT_WEIGHT = 2
HEAVY_WEIGHT = 20
CANDLES_PER_WEIGHT = 60
MAX_CANDLES = 5000
# The heaviest request: a full candleSnapshot (20 + 5000/60).
MAX_WEIGHT = HEAVY_WEIGHT + MAX_CANDLES // CANDLES_PER_WEIGHT + 1
PACING: dict[str, Limit] = {
    IP_KEY: Limit(
        IP_WEIGHT_PER_MIN - MAX_WEIGHT, 60.0, "1200 weight per minute per IP (less the heaviest request's weight)"
    ),
}
# A 429 means the minute's weight is spent: stop calling for the rest of a window.
RATE_LIMIT_PENALTY_S = 60.0
META_TTL_S = 300.0
SPOT_OFFSET = 10_000
EXCHANGE_BATCH_PER_WEIGHT = 40
CLIENT_IDS_MAX = 10_000


def to_decimal(value: Any) -> Decimal | None:
    """Return a Decimal for a Hyperliquid number (a string; None or "" when absent)."""
    if value is None or value == "":
        return None
    return value if isinstance(value, Decimal) else Decimal(str(value))


def info_weight(body: dict[str, Any]) -> int:
    """Return the documented weight of one /info request."""
    kind = str(body.get("type"))
    if kind in LIGHT_INFO:
        return LIGHT_WEIGHT
    # candleSnapshot: 20 here, plus one per 60 candles taken by `candle_snapshot` itself.
    return HEAVY_WEIGHT


class HyperliquidClient(VenueClient):
    """One Hyperliquid environment: its transport, account, signer, nonces, pacer and asset cache."""

    venue = "hyperliquid"
    setup_hint = (
        "set HYPERLIQUID_WALLET_ADDRESS and HYPERLIQUID_PRIVATE_KEY (and HYPERLIQUID_API_WALLET_ADDRESS for an "
        "API wallet), per environment, and restart; the market-data tools work without them"
    )

    def __init__(
        self,
        http: UpstreamHTTP,
        environment: Environment,
        account: str | None,
        private_key: str | None,
        api_wallet: str | None = None,
        missing: list[str] | None = None,
        *,
        slippage: Decimal = Decimal("0.05"),
        pacer: Pacer | None = None,
    ) -> None:
        super().__init__(http, environment, missing=missing or ())
        self.account = account
        self.api_wallet = api_wallet
        self._private_key = private_key
        self._wallet: LocalAccount | None = None
        self.slippage = slippage
        self.mainnet = environment == "mainnet"
        self.pacer = pacer or Pacer("hyperliquid", PACING, max_wait_s=10.0)
        self.nonces = NonceSource()
        self._meta: tuple[float, dict[str, Any]] | None = None
        self._spot_meta: tuple[float, dict[str, Any]] | None = None
        # cloid → the client_order_id it was derived from (a hash cannot be reversed), newest last.
        self.client_ids: dict[str, str] = {}

    @classmethod
    async def from_settings(cls, http: UpstreamHTTP, settings: Settings, env: Environment) -> HyperliquidClient:
        """Make the client with `env`'s account, API wallet and key, and the market-order slippage."""
        credentials = settings.venue_credentials("hyperliquid", env)
        return cls(
            http,
            env,
            credentials.get("wallet_address"),
            credentials.get("private_key"),
            credentials.get("api_wallet_address"),
            settings.missing_credentials("hyperliquid", env),
            slippage=Decimal(str(settings.venue_option("hyperliquid", "market_slippage"))),
        )

    async def probe(self) -> None:
        """Check the venue answers (/info allMids)."""
        await self.all_mids()

    # --- identity ---------------------------------------------------------------------------

    def user(self) -> str:
        """Return the account address the reads are for (NOT_CONFIGURED when unset)."""
        if not self.account:
            raise self.not_configured()
        return self.account

    def signer(self) -> LocalAccount:
        """Return the signing wallet, checking it is the configured API wallet (or the account itself)."""
        if self._wallet is not None:
            return self._wallet
        if not self._private_key or not self.account:
            raise self.not_configured()
        try:
            wallet = wallet_of(self._private_key)
        except ValueError as exc:
            raise NotConfiguredError(
                str(exc), details={"venue": "hyperliquid"}, suggested_fix=self.setup_hint
            ) from None
        # The approved API wallet signs for the account; the account's own key may sign for itself too.
        allowed = {address.lower() for address in (self.api_wallet, self.account) if address}
        if wallet.address.lower() not in allowed:
            raise NotConfiguredError(
                f"HYPERLIQUID_PRIVATE_KEY signs as {wallet.address}, which is neither "
                "HYPERLIQUID_API_WALLET_ADDRESS nor HYPERLIQUID_WALLET_ADDRESS",
                details={"venue": "hyperliquid", "signer": wallet.address, "expected": sorted(allowed)},
                suggested_fix="set the key of that wallet, or the address of this key",
            )
        self._wallet = wallet
        return wallet

    # --- transport --------------------------------------------------------------------------

    async def info(self, body: dict[str, Any]) -> Any:
        """POST /info with one request type; return the venue's JSON answer."""
        await self.pacer.acquire(*([IP_KEY] * info_weight(body)))
        response = await self.http.request(
            "POST", "/info", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )
        return self._answer(response, write=False)

    async def exchange(self, action: dict[str, Any], *, batch: int = 1) -> dict[str, Any]:
        """POST /exchange with one signed action; return its `response` (never re-sent)."""
        wallet = self.signer()
        await self.pacer.acquire(*([IP_KEY] * (1 + batch // EXCHANGE_BATCH_PER_WEIGHT)))
        nonce = self.nonces.next()
        signature = sign(wallet, action, nonce, mainnet=self.mainnet)
        # json.dumps keeps the action's key order: the venue hashes the action as received.
        data = json.dumps(exchange_body(action, nonce, signature)).encode()
        response = await self.http.request(
            "POST", "/exchange", data=data, headers={"Content-Type": "application/json"}, idempotent=False
        )
        body = self._answer(response, write=True)
        if not isinstance(body, dict) or body.get("status") not in ("ok", "err"):
            raise UpstreamError(
                "hyperliquid answered /exchange without a status envelope (the action may have been applied)",
                details={"venue": "hyperliquid", "status": response.status},
            )
        if body["status"] == "err":
            raise to_error(str(body.get("response", "")), write=True, http_status=response.status)
        answer = body.get("response")
        return answer if isinstance(answer, dict) else {"type": "default", "value": answer}

    def _answer(self, response: UpstreamResponse, *, write: bool) -> Any:
        if response.status == 429:
            self.pacer.penalize(RATE_LIMIT_PENALTY_S, "HTTP 429: 1200 weight per minute per IP exceeded")
            raise mark_definite(
                RateLimitError(
                    "hyperliquid answered HTTP 429 (IP weight per minute spent); "
                    f"no call is sent for {int(RATE_LIMIT_PENALTY_S)} s",
                    details={"venue": "hyperliquid", "status": 429, "retry_after_s": RATE_LIMIT_PENALTY_S},
                    headers={"Retry-After": str(int(RATE_LIMIT_PENALTY_S))},
                ),
                write,
            )
        raise_for_transport_status(response, "hyperliquid")
        if response.status >= 400:
            # 4xx: the venue refused to parse the request ("Failed to deserialize the JSON body ...").
            text = response.body[:300].decode("utf-8", "replace")
            raise mark_definite(
                InvalidInputError(
                    f"hyperliquid refused the request (HTTP {response.status}): {text}",
                    details={"venue": "hyperliquid", "status": response.status},
                ),
                write,
            )
        return response.json(exact=True)

    # --- /info ------------------------------------------------------------------------------

    async def meta(self) -> dict[str, Any]:
        """/info meta: the perpetuals universe (cached META_TTL_S)."""
        if self._meta is None or time.monotonic() - self._meta[0] > META_TTL_S:
            answer = await self.info({"type": "meta"})
            self._meta = (time.monotonic(), answer if isinstance(answer, dict) else {})
        return self._meta[1]

    async def spot_meta(self) -> dict[str, Any]:
        """/info spotMeta: the spot pairs and tokens (cached META_TTL_S)."""
        if self._spot_meta is None or time.monotonic() - self._spot_meta[0] > META_TTL_S:
            answer = await self.info({"type": "spotMeta"})
            self._spot_meta = (time.monotonic(), answer if isinstance(answer, dict) else {})
        return self._spot_meta[1]

    async def all_mids(self) -> dict[str, str]:
        """/info allMids: mid price by coin."""
        answer = await self.info({"type": "allMids"})
        return answer if isinstance(answer, dict) else {}

    async def l2_book(self, coin: str) -> dict[str, Any] | None:
        """/info l2Book: 20 levels a side (null for an unknown coin)."""
        answer = await self.info({"type": "l2Book", "coin": coin})
        return answer if isinstance(answer, dict) else None

    async def candle_snapshot(
        self, coin: str, interval: str, start_ms: int, end_ms: int, interval_ms: int
    ) -> list[dict[str, Any]]:
        """/info candleSnapshot: candles oldest first (the latest 5000 at most)."""
        body = {
            "type": "candleSnapshot",
            "req": {"coin": coin, "interval": interval, "startTime": start_ms, "endTime": end_ms},
        }
        # The weight depends on how many candles come back; estimate it from the span asked.
        candles = min(MAX_CANDLES, max(0, end_ms - start_ms) // max(1, interval_ms))
        if candles >= CANDLES_PER_WEIGHT:
            await self.pacer.acquire(*([IP_KEY] * (candles // CANDLES_PER_WEIGHT)))
        answer = await self.info(body)
        return [row for row in answer if isinstance(row, dict)] if isinstance(answer, list) else []

    async def clearinghouse_state(self) -> dict[str, Any]:
        """/info clearinghouseState: the account's perp margin summary and positions."""
        answer = await self.info({"type": "clearinghouseState", "user": self.user()})
        return answer if isinstance(answer, dict) else {}

    async def spot_clearinghouse_state(self) -> dict[str, Any]:
        """/info spotClearinghouseState: the account's spot balances."""
        answer = await self.info({"type": "spotClearinghouseState", "user": self.user()})
        return answer if isinstance(answer, dict) else {}

    async def frontend_open_orders(self) -> list[dict[str, Any]]:
        """/info frontendOpenOrders: open orders with type, tif, reduce-only and trigger fields."""
        answer = await self.info({"type": "frontendOpenOrders", "user": self.user()})
        return [row for row in answer if isinstance(row, dict)] if isinstance(answer, list) else []

    async def order_status(self, oid: int | str) -> dict[str, Any]:
        """/info orderStatus by oid (int) or cloid (0x...): `{status: "order", order}` or `{status: "unknownOid"}`."""
        answer = await self.info({"type": "orderStatus", "user": self.user(), "oid": oid})
        return answer if isinstance(answer, dict) else {}

    async def user_fills(self) -> list[dict[str, Any]]:
        """/info userFills: the account's most recent fills (newest first, at most 2000)."""
        answer = await self.info({"type": "userFills", "user": self.user()})
        return [row for row in answer if isinstance(row, dict)] if isinstance(answer, list) else []

    async def funding_history(self, coin: str, start_ms: int, end_ms: int | None) -> list[dict[str, Any]]:
        """/info fundingHistory: hourly fundings oldest first (500 a call)."""
        body: dict[str, Any] = {"type": "fundingHistory", "coin": coin, "startTime": start_ms}
        if end_ms is not None:
            body["endTime"] = end_ms
        answer = await self.info(body)
        return [row for row in answer if isinstance(row, dict)] if isinstance(answer, list) else []

    async def predicted_fundings(self) -> list[Any]:
        """/info predictedFundings: next funding rate per coin and venue."""
        answer = await self.info({"type": "predictedFundings"})
        return answer if isinstance(answer, list) else []

    async def meta_and_asset_ctxs(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """/info metaAndAssetCtxs: the perp universe and each asset's context (funding, OI, mark, oracle, mid)."""
        answer = await self.info({"type": "metaAndAssetCtxs"})
        if not isinstance(answer, list) or len(answer) != 2:
            raise UpstreamError(
                "hyperliquid: metaAndAssetCtxs is not [meta, contexts]", details={"venue": "hyperliquid"}
            )
        return answer[0], [ctx if isinstance(ctx, dict) else {} for ctx in answer[1]]

    async def spot_meta_and_asset_ctxs(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """/info spotMetaAndAssetCtxs: the spot pairs and each pair's context (mark, mid, volume)."""
        answer = await self.info({"type": "spotMetaAndAssetCtxs"})
        if not isinstance(answer, list) or len(answer) != 2:
            raise UpstreamError(
                "hyperliquid: spotMetaAndAssetCtxs is not [meta, contexts]", details={"venue": "hyperliquid"}
            )
        return answer[0], [ctx if isinstance(ctx, dict) else {} for ctx in answer[1]]

    # --- assets -----------------------------------------------------------------------------

    async def asset(self, name: str) -> Asset:
        """Return the asset a name means: a perp coin (BTC), a spot pair (PURR/USDC, HYPE/USDC) or @index."""
        if "/" not in name and not name.startswith("@"):
            universe = (await self.meta()).get("universe") or []
            for index, row in enumerate(universe):
                if isinstance(row, dict) and row.get("name") == name:
                    return Asset(
                        asset_id=index,
                        coin=name,
                        name=name,
                        sz_decimals=int(row.get("szDecimals", 0)),
                        spot=False,
                        max_leverage=int(row["maxLeverage"]) if row.get("maxLeverage") is not None else None,
                        only_isolated=bool(row.get("onlyIsolated", False)),
                    )
            raise self._unknown(name)
        spot = await self.spot_meta()
        tokens = {int(t["index"]): t for t in spot.get("tokens") or [] if isinstance(t, dict) and "index" in t}
        for row in spot.get("universe") or []:
            if not isinstance(row, dict) or "index" not in row:
                continue
            pair = row.get("tokens") or [None, None]
            base, quote = (
                tokens.get(int(pair[0])) if pair[0] is not None else None,
                tokens.get(int(pair[1])) if pair[1] is not None else None,
            )
            spelled = f"{base.get('name')}/{quote.get('name')}" if base and quote else None
            if name in (row.get("name"), f"@{row['index']}", spelled):
                return Asset(
                    asset_id=SPOT_OFFSET + int(row["index"]),
                    coin=str(row.get("name") or f"@{row['index']}"),
                    name=name,
                    sz_decimals=int((base or {}).get("szDecimals", 0)),
                    spot=True,
                )
        raise self._unknown(name)

    @staticmethod
    def _unknown(name: str) -> InvalidInputError:
        return InvalidInputError(
            f"hyperliquid: instrument {name} not found",
            details={"venue": "hyperliquid", "instrument": name},
            suggested_fix="perpetuals by coin (BTC, ETH); spot by pair (PURR/USDC) or @index (@107)",
        )

    def remember_client_id(self, cloid: str, client_order_id: str) -> None:
        """Remember which client_order_id a cloid stands for, so orders report the caller's own id."""
        self.client_ids.pop(cloid, None)
        self.client_ids[cloid] = client_order_id
        while len(self.client_ids) > CLIENT_IDS_MAX:
            self.client_ids.pop(next(iter(self.client_ids)))

    # --- /exchange actions (never re-sent) --------------------------------------------------

    async def order(self, orders: list[dict[str, Any]], grouping: str = "na") -> dict[str, Any]:
        """/exchange order: place orders; `data.statuses` has one entry per order (resting, filled or error)."""
        return await self.exchange({"type": "order", "orders": orders, "grouping": grouping}, batch=len(orders))

    async def modify(self, oid: int | str, order: dict[str, Any]) -> dict[str, Any]:
        """/exchange modify: replace an open order (by oid or cloid) with `order`."""
        return await self.exchange({"type": "modify", "oid": oid, "order": order})

    async def cancel(self, cancels: list[dict[str, Any]]) -> dict[str, Any]:
        """/exchange cancel: `[{a, o}]`; `data.statuses` is "success" or `{error}` per order."""
        return await self.exchange({"type": "cancel", "cancels": cancels}, batch=len(cancels))

    async def update_leverage(self, asset: int, is_cross: bool, leverage: int) -> dict[str, Any]:
        """/exchange updateLeverage: set an asset's leverage and margin mode."""
        return await self.exchange(
            {"type": "updateLeverage", "asset": asset, "isCross": is_cross, "leverage": leverage}
        )

    async def schedule_cancel(self, time_ms: int | None) -> dict[str, Any]:
        """/exchange scheduleCancel: cancel every open order at `time_ms` (>= 5 s ahead), or unset with None."""
        action: dict[str, Any] = {"type": "scheduleCancel"}
        if time_ms is not None:
            action["time"] = time_ms
        return await self.exchange(action)


def statuses(response: dict[str, Any]) -> list[Any]:
    """Return the per-order `statuses` of an order/cancel/modify answer."""
    data = response.get("data")
    found = data.get("statuses") if isinstance(data, dict) else None
    return found if isinstance(found, list) else []


def raise_status_error(entry: Any, index: int | None = None) -> None:
    """Raise the mapped error when one `statuses` entry is `{"error": text}` (a definite refusal of that order)."""
    if isinstance(entry, dict) and "error" in entry:
        raise to_error(str(entry["error"]), write=True, index=index)
