"""POST /exchange: signed actions (hyperliquid.gitbook.io, exchange-endpoint, nonces-and-api-wallets).

Body `{"action", "nonce", "signature": {r, s, v}, "vaultAddress"?, "expiresAfter"?}`. The signer is
recovered from the action as received (`signing.py`) for this instance's chain and must be the
account or its approved API wallet; otherwise "User or API Wallet 0x… does not exist.". Nonces are
per signer: the 100 highest are kept, a new one must be unused, above the smallest kept, and within
(now − 2 days, now + 1 day). An expired `expiresAfter` is refused. Orders and cancels answer one
status per element, errors included, inside HTTP 200.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from cerbero_mcp.simulators.hyperliquid.limits import AddressLimit
from cerbero_mcp.simulators.hyperliquid.market import HyperliquidMarket
from cerbero_mcp.simulators.hyperliquid.signing import BadSignature, Unrecoverable, recover_signer
from cerbero_mcp.simulators.hyperliquid.trading import HlOrder, Trading
from cerbero_mcp.simulators.hyperliquid.wire import ActionError, BadRequest, decimal_field, ms, ok

CLOID = re.compile(r"^0x[0-9a-fA-F]{32}$")
NONCES_KEPT = 100
NONCE_PAST_MS = 2 * 86_400_000
NONCE_FUTURE_MS = 86_400_000
TIFS = ("Gtc", "Ioc", "Alo")
GROUPINGS = ("na", "normalTpsl", "positionTpsl")
CANCEL_TYPES = ("cancel", "cancelByCloid", "scheduleCancel")


def _bad(detail: str) -> BadRequest:
    return BadRequest(f"Failed to deserialize the JSON body into the target type: {detail}")


def _int(value: Any, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _bad(f"invalid field `{name}`")
    return value


def _bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise _bad(f"invalid field `{name}`")
    return value


def batch_length(action: Any) -> int:
    """Return the length of the action's array (1 for unbatched actions)."""
    if not isinstance(action, dict):
        return 1
    for key in ("orders", "cancels", "modifies"):
        value = action.get(key)
        if isinstance(value, list):
            return max(len(value), 1)
    return 1


class ExchangeApi:
    """The /exchange handlers of one instance."""

    def __init__(self, market: HyperliquidMarket, trading: Trading, *, account: str, agents: set[str],
                 mainnet: bool) -> None:  # fmt: skip
        """Accept actions of `account` signed by it or one of `agents` (lower-case), on this chain."""
        self.market = market
        self.trading = trading
        self.account = account
        self.agents = agents
        self.mainnet = mainnet
        self.nonces: dict[str, list[int]] = {}
        self.address_limit = AddressLimit()
        self.rate_limit: Callable[[], bool] = lambda: True
        self.actions: dict[str, Callable[[dict[str, Any], float], Any]] = {
            "order": self.order,
            "cancel": self.cancel,
            "cancelByCloid": self.cancel_by_cloid,
            "modify": self.modify,
            "batchModify": self.batch_modify,
            "updateLeverage": self.update_leverage,
            "scheduleCancel": self.schedule_cancel,
            "noop": lambda action, now: ok({"type": "default"}),
        }

    def serve(self, body: Any, now: float) -> Any:
        """Verify and run one signed action; return the answer body."""
        if not isinstance(body, dict):
            raise _bad("expected an object")
        action, signature = body.get("action"), body.get("signature")
        if not isinstance(action, dict) or not isinstance(action.get("type"), str):
            raise _bad("missing field `action`")
        handler = self.actions.get(action["type"])
        if handler is None:
            raise _bad(f"unknown variant `{action['type']}`")
        nonce = _int(body.get("nonce"), "nonce")
        vault = body.get("vaultAddress")
        expires = body.get("expiresAfter")
        if vault is not None and not (isinstance(vault, str) and re.fullmatch(r"0x[0-9a-fA-F]{40}", vault)):
            raise _bad("invalid field `vaultAddress`")
        if expires is not None:
            expires = _int(expires, "expiresAfter")
        try:
            signer = recover_signer(action, signature, vault, nonce, expires, mainnet=self.mainnet)
        except BadSignature:
            raise _bad("invalid field `signature`") from None
        except Unrecoverable:
            raise ActionError("Unable to recover signer.") from None
        if signer != self.account and signer not in self.agents:
            raise ActionError(f"User or API Wallet {signer} does not exist.")
        if vault is not None:
            raise ActionError(f"Vault not registered: {vault.lower()}")
        if expires is not None and ms(now) > expires:
            raise ActionError(f"Action expired: expiresAfter {expires} is before the current time {ms(now)}.")
        self._use_nonce(signer, nonce, now)
        if self.rate_limit():
            refusal = self.address_limit.take(batch_length(action), self.trading.volume, now,
                                              cancel=action["type"] in CANCEL_TYPES)  # fmt: skip
            if refusal is not None:
                raise ActionError(refusal)
        return handler(action, now)

    def _use_nonce(self, signer: str, nonce: int, now: float) -> None:
        kept = self.nonces.setdefault(signer, [])
        now_ms = ms(now)
        if nonce in kept:
            raise ActionError(f"Invalid nonce: duplicate nonce {nonce}")
        if not now_ms - NONCE_PAST_MS < nonce < now_ms + NONCE_FUTURE_MS:
            raise ActionError(f"Invalid nonce: nonce {nonce} is outside the allowed time window")
        if len(kept) >= NONCES_KEPT and nonce <= kept[0]:
            raise ActionError(f"Invalid nonce: nonce too low {nonce} < {kept[0]}")
        kept.append(nonce)
        kept.sort()
        del kept[:-NONCES_KEPT]

    # --- wire parsing -------------------------------------------------------------------------

    def _order_wire(self, wire: Any) -> dict[str, Any]:
        """Return the order wire with p, s, triggerPx as Decimals (422 when its shape is wrong)."""
        if not isinstance(wire, dict):
            raise _bad("invalid order")
        out: dict[str, Any] = {
            "a": _int(wire.get("a"), "a"),
            "b": _bool(wire.get("b"), "b"),
            "p": decimal_field(wire.get("p"), "p"),
            "s": decimal_field(wire.get("s"), "s"),
            "r": _bool(wire.get("r"), "r"),
        }
        t = wire.get("t")
        if not isinstance(t, dict) or len(t) != 1:
            raise _bad("invalid field `t`")
        if "limit" in t:
            tif = t["limit"].get("tif") if isinstance(t["limit"], dict) else None
            if tif not in TIFS:
                raise _bad(f"unknown variant `{tif}`")
            out["t"] = {"limit": {"tif": tif}}
        elif "trigger" in t and isinstance(t["trigger"], dict):
            trig = t["trigger"]
            if trig.get("tpsl") not in ("tp", "sl"):
                raise _bad("invalid field `tpsl`")
            out["t"] = {"trigger": {"isMarket": _bool(trig.get("isMarket"), "isMarket"),
                                    "triggerPx": decimal_field(trig.get("triggerPx"), "triggerPx"),
                                    "tpsl": trig["tpsl"]}}  # fmt: skip
        else:
            raise _bad("invalid field `t`")
        cloid = wire.get("c")
        if cloid is not None:
            if not isinstance(cloid, str) or not CLOID.match(cloid):
                raise _bad("invalid field `c`")
            out["c"] = cloid.lower()
        return out

    # --- actions ------------------------------------------------------------------------------

    def order(self, action: dict[str, Any], now: float) -> Any:
        """Place a batch of orders: one status per order."""
        orders = action.get("orders")
        grouping = action.get("grouping")
        if not isinstance(orders, list) or grouping not in GROUPINGS:
            raise _bad("invalid field `orders` or `grouping`")
        wires = [self._order_wire(w) for w in orders]
        statuses: list[Any] = []
        parent: HlOrder | None = None
        for wire in wires:
            asset = self.market.asset(wire["a"], now)
            if asset is None:
                statuses.append({"error": "Order has invalid asset."})
                continue
            is_trigger = "trigger" in wire["t"]
            entry, placed = self.trading.place(
                wire, asset, now, parent=parent if grouping == "normalTpsl" and is_trigger else None,
                position_tpsl=grouping == "positionTpsl" and is_trigger,
            )  # fmt: skip
            if grouping == "normalTpsl" and not is_trigger and parent is None:
                parent = placed
            statuses.append(entry)
        return ok({"type": "order", "data": {"statuses": statuses}})

    def cancel(self, action: dict[str, Any], now: float) -> Any:
        """Cancel by (asset, oid): "success" or an error per element."""
        cancels = action.get("cancels")
        if not isinstance(cancels, list):
            raise _bad("invalid field `cancels`")
        refs = [(_int(c.get("a"), "a"), _int(c.get("o"), "o")) if isinstance(c, dict) else (-1, -1) for c in cancels]
        statuses = [self.trading.cancel(self.trading.find(self.market.asset(a, now), oid=o), now) for a, o in refs]
        return ok({"type": "cancel", "data": {"statuses": statuses}})

    def cancel_by_cloid(self, action: dict[str, Any], now: float) -> Any:
        """Cancel by (asset, cloid)."""
        cancels = action.get("cancels")
        if not isinstance(cancels, list):
            raise _bad("invalid field `cancels`")
        statuses = []
        for c in cancels:
            if not isinstance(c, dict) or not isinstance(c.get("cloid"), str) or not CLOID.match(c["cloid"]):
                raise _bad("invalid field `cloid`")
            asset = self.market.asset(_int(c.get("asset"), "asset"), now)
            statuses.append(self.trading.cancel(self.trading.find(asset, cloid=c["cloid"].lower()), now))
        return ok({"type": "cancel", "data": {"statuses": statuses}})

    def _modify_one(self, item: Any, now: float) -> Any:
        if not isinstance(item, dict):
            raise _bad("invalid modify")
        ref = item.get("oid")
        wire = self._order_wire(item.get("order"))
        asset = self.market.asset(wire["a"], now)
        if asset is None:
            return {"error": "Order has invalid asset."}
        if isinstance(ref, str) and CLOID.match(ref):
            order = self.trading.find(asset, cloid=ref.lower())
        else:
            order = self.trading.find(asset, oid=_int(ref, "oid"))
        return self.trading.modify(order, wire, asset, now)

    def modify(self, action: dict[str, Any], now: float) -> Any:
        """Modify one order: `{"type": "default"}` or the error as an action failure."""
        entry = self._modify_one({"oid": action.get("oid"), "order": action.get("order")}, now)
        if isinstance(entry, dict) and "error" in entry:
            raise ActionError(str(entry["error"]))
        return ok({"type": "default"})

    def batch_modify(self, action: dict[str, Any], now: float) -> Any:
        """Modify several orders: one order status per element."""
        modifies = action.get("modifies")
        if not isinstance(modifies, list):
            raise _bad("invalid field `modifies`")
        return ok({"type": "order", "data": {"statuses": [self._modify_one(m, now) for m in modifies]}})

    def update_leverage(self, action: dict[str, Any], now: float) -> Any:
        """Set an asset's leverage and margin mode."""
        asset = self.market.asset(_int(action.get("asset"), "asset"), now)
        is_cross = _bool(action.get("isCross"), "isCross")
        leverage = _int(action.get("leverage"), "leverage")
        if asset is None or asset.spot:
            raise ActionError("Invalid asset")
        problem = self.trading.set_leverage(asset, is_cross, leverage)
        if problem is not None:
            raise ActionError(problem)
        return ok({"type": "default"})

    def schedule_cancel(self, action: dict[str, Any], now: float) -> Any:
        """Set or unset the dead-man switch."""
        when = action.get("time")
        problem = self.trading.schedule(None if when is None else _int(when, "time"), now)
        if problem is not None:
            raise ActionError(problem)
        return ok({"type": "default"})


__all__ = ["ExchangeApi", "batch_length"]
