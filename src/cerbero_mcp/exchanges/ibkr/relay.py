"""IBKR across replicas: only the session owner talks to IBKR, the other replicas forward to it.

IBKR allows one brokerage session per user, so with several replicas (STATE_DB=postgresql://…) one of
them owns it (`cerbero_mcp.session_owner`, a PostgreSQL advisory lock). `RelayedIbkrClient` is the IBKR
client every replica builds: on the owner (and in single-process mode, where there is no election) it is
the plain `IbkrClient`; on any other replica each upstream call, each order (with its whole reply chain,
under the owner's order lock) and each market-data socket operation is sent to the owner's
`POST /internal/ibkr/{env}` and answered from the owner's session. The write pipeline (kill switch,
idempotency, limits, audit) stays on the replica the bot called: only the IBKR wire moves.

Forwarded calls carry `X-Replica-Secret` (REPLICA_SECRET, compared in constant time), never the user's
token. An order forwarded to the owner is sent once: a failure after it left is "may have been placed",
exactly as a direct IBKR call. Only a forward that provably never reached an owner (connection refused,
or the peer answering that it is not the owner) is sent again, to the new owner, until `OWNER_WAIT_S`.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, ClassVar, Self

import aiohttp
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from cerbero_mcp import session_owner
from cerbero_mcp.common.errors import (
    BadRequestError,
    CerberoError,
    InvalidInputError,
    NotConfiguredError,
    NotFoundError,
    UnauthorizedError,
    UpstreamError,
    all_error_classes,
)
from cerbero_mcp.common.http import UpstreamHTTP, dumps_exact
from cerbero_mcp.exchanges.ibkr import key_rotation
from cerbero_mcp.exchanges.ibkr.client import IbkrClient
from cerbero_mcp.exchanges.ibkr.ws import IbkrStream, Tick
from cerbero_mcp.settings import Environment, Settings

SECRET_HEADER = "X-Replica-Secret"  # noqa: S105  # a header name, not a secret
INTERNAL_PATH = "/internal/ibkr/{env}"
# How long a forward waits for an owner to answer (a dead owner is replaced within ~IBKR_OWNER_POLL_S
# after PostgreSQL drops its connection); a bot gets a retryable 502 after that.
OWNER_WAIT_S = 15.0
# An owner may wait on IBKR's pacing (orders list: 1 per 5 s) before it answers.
FORWARD_READ_TIMEOUT_S = 60.0
STREAM_OPS = frozenset({"subscribe_tick", "unsubscribe", "tick", "depth"})
TICK_DECIMALS = ("last", "bid", "ask", "bid_size", "ask_size")
_ERRORS: dict[tuple[str, str], type[CerberoError]] = {(c.__name__, c.code): c for c in all_error_classes()}


class _NotOwner(Exception):
    """The forward never reached an owner: nothing was sent, ask again."""


class Relay:
    """This replica's way to the owner of the IBKR session: one pooled transport per owner URL."""

    _transports: ClassVar[dict[str, UpstreamHTTP]] = {}

    def __init__(self, owner: session_owner.SessionOwner) -> None:
        self.owner = owner
        self.secret = owner.secret

    async def run(self, env: Environment, op: str, args: dict[str, Any], local: Callable[[], Awaitable[Any]]) -> Any:
        """Run `local()` when this replica owns the session, else forward `op` to the owner and return its answer."""
        deadline = time.monotonic() + OWNER_WAIT_S
        while True:
            if self.owner.is_owner:
                return await local()
            url = await self.owner.owner_url()
            if url is not None and url != self.owner.url:
                try:
                    return await self._forward(url, env, op, args)
                except _NotOwner:
                    self.owner.forget_owner_url()
            if time.monotonic() > deadline:
                raise UpstreamError(
                    f"no replica owning the IBKR session answered within {OWNER_WAIT_S:g} s",
                    details={"venue": "ibkr"},
                    suggested_fix="check that the replicas reach PostgreSQL and each other (REPLICA_URL)",
                )
            await asyncio.sleep(min(self.owner.poll_s, 0.2))

    async def _forward(self, url: str, env: Environment, op: str, args: dict[str, Any]) -> Any:
        if not self.secret:
            raise NotConfiguredError(
                "this replica does not own the IBKR session and REPLICA_SECRET is unset, so it cannot forward to "
                "the owner",
                suggested_fix="set the same REPLICA_SECRET on every replica",
            )
        transport = self._transports.get(url)
        if transport is None:
            transport = self._transports[url] = UpstreamHTTP(
                "ibkr session owner", url, read_timeout_s=FORWARD_READ_TIMEOUT_S
            )
        write = bool(args.get("write")) or op in ("place_orders", "modify_order")
        try:
            response = await transport.request(
                "POST",
                INTERNAL_PATH.format(env=env),
                data=dumps_exact({"op": op, "args": args}),
                headers={SECRET_HEADER: self.secret, "Content-Type": "application/json"},
                idempotent=not write,
            )
        except UpstreamError as exc:
            if isinstance(exc.__cause__, aiohttp.ClientConnectorError):
                raise _NotOwner from exc  # refused: the old owner is gone and nothing was sent
            raise
        if response.status == 409:
            raise _NotOwner
        if response.status in (401, 403):
            raise NotConfiguredError(
                "the IBKR session owner refused this replica's REPLICA_SECRET",
                suggested_fix="set the same REPLICA_SECRET on every replica",
            )
        answer = response.json(exact=True)
        if response.status != 200 or not isinstance(answer, dict) or "ok" not in answer:
            raise UpstreamError(
                f"the IBKR session owner answered HTTP {response.status} without a relay answer",
                details={"venue": "ibkr"},
            )
        if answer["ok"]:
            return answer.get("result")
        raise rebuilt_error(answer.get("error") or {}, bool(answer.get("definite")))


def rebuilt_error(body: dict[str, Any], definite: bool) -> CerberoError:
    """Return the common error the owner raised, as the same class, with its `definite` flag."""
    cls = _ERRORS.get((str(body.get("type")), str(body.get("code"))), UpstreamError)
    details = body.get("details")
    error = cls(
        str(body.get("message") or "the IBKR session owner failed"),
        suggested_fix=body.get("suggested_fix"),
        details=details if isinstance(details, dict) else None,
    )
    error.definite = definite
    return error


_closing: set[asyncio.Task[None]] = set()


class RelayedIbkrClient(IbkrClient):
    """The IBKR client of a replica: direct on the session owner (or alone), forwarded to it otherwise."""

    _stream_proxy: RemoteStream | None = None

    @classmethod
    async def build(cls, settings: Settings, env: Environment) -> Self:
        """Build the client and, on a replica, follow the election (a lost session is dropped at once)."""
        client = await super().build(settings, env)
        owner = session_owner.current()
        if owner is not None:
            owner.on_change(client._ownership_changed)
        return client

    async def aclose(self) -> None:
        """Close the client and the pools to the session owner (shared by both environments' clients)."""
        await super().aclose()
        transports = list(Relay._transports.values())
        Relay._transports.clear()
        for transport in transports:
            await transport.aclose()

    def _ownership_changed(self, owner: bool) -> None:
        if owner:
            return
        # Another replica may own the session now: this one must neither tickle nor reopen its own.
        self._reset_session()
        if self._tickle_task is not None:
            self._tickle_task.cancel()
            self._tickle_task = None
        stream, self._stream = self._stream, None
        if stream is not None:
            task = asyncio.get_running_loop().create_task(stream.aclose())
            _closing.add(task)  # held until done: a task nobody references may be collected mid-close
            task.add_done_callback(_closing.discard)

    def _relay(self) -> Relay | None:
        owner = session_owner.current()
        return None if owner is None else Relay(owner)

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        write: bool = False,
        brokerage: bool | None = None,
    ) -> Any:
        """Send one signed call here when this replica owns the session, else through the owner."""

        async def here() -> Any:
            return await IbkrClient.call(
                self, method, path, params=params, json_body=json_body, write=write, brokerage=brokerage
            )

        relay = self._relay()
        if relay is None:
            return await here()
        args = {
            "method": method,
            "path": path,
            "params": params,
            "json_body": json_body,
            "write": write,
            "brokerage": brokerage,
        }
        return await relay.run(self.environment, "call", args, here)

    async def place_orders(self, orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Place orders (with their reply chain) on the owner's session."""
        relay = self._relay()
        if relay is None:
            return await IbkrClient.place_orders(self, orders)
        result = await relay.run(
            self.environment, "place_orders", {"orders": orders}, lambda: IbkrClient.place_orders(self, orders)
        )
        return [dict(item) for item in result]

    async def modify_order(self, order_id: str, order: dict[str, Any]) -> list[dict[str, Any]]:
        """Modify an order (with its reply chain) on the owner's session."""
        relay = self._relay()
        if relay is None:
            return await IbkrClient.modify_order(self, order_id, order)
        result = await relay.run(
            self.environment,
            "modify_order",
            {"order_id": order_id, "order": order},
            lambda: IbkrClient.modify_order(self, order_id, order),
        )
        return [dict(item) for item in result]

    async def stream(self) -> IbkrStream:
        """Return the market-data socket here on the owner, or a proxy of the owner's socket."""
        relay = self._relay()
        if relay is None or relay.owner.is_owner:
            return await IbkrClient.stream(self)
        if self._stream_proxy is None:
            self._stream_proxy = RemoteStream(self)
        return self._stream_proxy

    async def stream_op(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        """Run one socket operation on the owner's socket (or here), answering its result and the subscriptions."""

        async def here() -> dict[str, Any]:
            return await run_stream_op(await IbkrClient.stream(self), name, args)

        relay = self._relay()
        if relay is None:
            return await here()
        answer: dict[str, Any] = await relay.run(self.environment, "stream", {"name": name, **args}, here)
        return answer


class RemoteStream(IbkrStream):
    """The owner's market-data socket seen from another replica: each operation is forwarded."""

    def __init__(self, client: RelayedIbkrClient) -> None:
        super().__init__("ws://session-owner.invalid", access_token="", session_provider=_no_session)
        self._client = client
        self._active: list[int] = []

    async def start(self) -> None:
        """Nothing to open here: the owner's socket is used."""

    async def aclose(self) -> None:
        """Nothing to close here: the owner's socket is used."""

    def subscriptions(self) -> list[int]:
        """Return the conids the owner's socket streamed at the last forwarded operation."""
        return list(self._active)

    async def _op(self, name: str, **args: Any) -> Any:
        answer = await self._client.stream_op(name, args)
        self._active = [int(c) for c in answer.get("active") or []]
        return answer.get("result")

    async def subscribe_tick(self, conid: int) -> None:
        """Subscribe on the owner's socket."""
        await self._op("subscribe_tick", conid=conid)

    async def unsubscribe(self, conid: int) -> None:
        """Unsubscribe on the owner's socket."""
        await self._op("unsubscribe", conid=conid)

    async def tick(self, conid: int, *, wait_s: float = 5.0) -> Tick:
        """Return the owner's merged snapshot of a conid."""
        row = await self._op("tick", conid=conid, wait_s=wait_s)
        return tick_from_json(row if isinstance(row, dict) else {})

    async def depth(
        self, account_id: str, conid: int, *, wait_s: float = 5.0, exchange: str | None = None
    ) -> list[dict[str, Any]]:
        """Return the owner's latest book of a conid."""
        rows = await self._op("depth", account_id=account_id, conid=conid, wait_s=wait_s, exchange=exchange)
        return [dict(r) for r in rows or []]


async def _no_session() -> str:
    raise UpstreamError("a relayed IBKR stream has no session of its own", details={"venue": "ibkr"})


def tick_to_json(tick: Tick) -> dict[str, Any]:
    """Return a tick as a JSON-able dict (Decimals stay exact through dumps_exact)."""
    return {
        "conid": tick.conid,
        **{name: getattr(tick, name) for name in TICK_DECIMALS},
        "updated_ms": tick.updated_ms,
        "raw": dict(tick.raw),
    }


def tick_from_json(row: dict[str, Any]) -> Tick:
    """Return the tick a `tick_to_json` dict describes."""
    values = {name: None if row.get(name) is None else Decimal(str(row[name])) for name in TICK_DECIMALS}
    updated = row.get("updated_ms")
    return Tick(
        conid=int(row.get("conid") or 0),
        updated_ms=int(updated) if updated is not None else None,
        raw={str(k): str(v) for k, v in (row.get("raw") or {}).items()},
        **values,
    )


async def run_stream_op(stream: IbkrStream, name: str, args: dict[str, Any]) -> dict[str, Any]:
    """Run one named socket operation and return its result with the active subscriptions."""
    conid = int(args["conid"])
    wait_s = float(args.get("wait_s") or 5.0)
    result: Any = None
    if name == "subscribe_tick":
        await stream.subscribe_tick(conid)
    elif name == "unsubscribe":
        await stream.unsubscribe(conid)
    elif name == "tick":
        result = tick_to_json(await stream.tick(conid, wait_s=wait_s))
    elif name == "depth":
        result = await stream.depth(str(args["account_id"]), conid, wait_s=wait_s, exchange=args.get("exchange"))
    else:
        raise InvalidInputError(f"unknown relayed stream operation {name!r}")
    return {"result": result, "active": stream.subscriptions()}


# --- the owner's side ---------------------------------------------------------------------------


async def on_the_session_owner() -> None:
    """Refuse IBKR admin actions (key rotation, health) on a replica that does not own the IBKR session."""
    # Each of them mints a live session token: from a non-owner that is a second session, which would knock
    # the owner's off (and a rotation must change the keys the owner signs with).
    owner = session_owner.current()
    if owner is not None and not owner.is_owner:
        raise BadRequestError(
            "this replica does not own the IBKR session: IBKR admin actions run on the replica that owns it",
            details={"this_replica": owner.replica_id},
            suggested_fix="send it again (another replica may answer) or to the owner's own address",
        )


router = APIRouter()
router.include_router(key_rotation.router, dependencies=[Depends(on_the_session_owner)])


@router.post(INTERNAL_PATH, include_in_schema=False)
async def relayed(env: str, request: Request) -> Response:
    """Serve one IBKR operation forwarded by another replica, on this replica's (the owner's) session."""
    settings = request.app.state.cerbero.settings
    secret = settings.replica_secret
    presented = request.headers.get(SECRET_HEADER, "")
    if secret is None or not secrets.compare_digest(presented.encode(), secret.get_secret_value().encode()):
        raise UnauthorizedError("forwarded IBKR calls need this fleet's replica secret")
    if env not in ("testnet", "mainnet"):
        raise NotFoundError(f"no environment {env!r}")
    owner = session_owner.current()
    if owner is None or not owner.is_owner:
        return Response(json.dumps({"not_owner": True}), status_code=409, media_type="application/json")
    try:
        # Plain floats, as the forwarding replica had them: IBKR bodies are JSON-native (dumps_exact wrote them).
        payload = json.loads(await request.body())
        op, args = str(payload["op"]), dict(payload["args"])
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInputError("a relayed IBKR call needs a JSON body {op, args}") from exc
    client: RelayedIbkrClient = await request.app.state.cerbero.registry.get("ibkr", env)
    try:
        result = await _dispatch(client, op, args)
        body = {"ok": True, "result": result}
    except CerberoError as exc:
        body = {"ok": False, "error": exc.to_dict(), "definite": exc.definite}
    try:
        text = dumps_exact(body)
    except (TypeError, ValueError):  # a detail that is not JSON: the error's class and message still travel
        if isinstance(body.get("error"), dict):
            body["error"] = {k: v for k, v in body["error"].items() if k != "details"}
        text = dumps_exact(body)
    return Response(text, media_type="application/json")


async def _dispatch(client: RelayedIbkrClient, op: str, args: dict[str, Any]) -> Any:
    if op == "call":
        return await IbkrClient.call(
            client,
            str(args["method"]),
            str(args["path"]),
            params=args.get("params"),
            json_body=args.get("json_body"),
            write=bool(args.get("write")),
            brokerage=args.get("brokerage"),
        )
    if op == "place_orders":
        return await IbkrClient.place_orders(client, list(args["orders"]))
    if op == "modify_order":
        return await IbkrClient.modify_order(client, str(args["order_id"]), dict(args["order"]))
    if op == "stream" and args.get("name") in STREAM_OPS:
        return await run_stream_op(await IbkrClient.stream(client), str(args["name"]), args)
    raise InvalidInputError(f"unknown relayed IBKR operation {op!r}")
