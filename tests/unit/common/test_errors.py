"""Every error class maps to one status and one code, and the handler renders each as the envelope."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ConfigDict

from cerbero_mcp.common import errors
from cerbero_mcp.server import build_app
from cerbero_mcp.settings import Settings
from cerbero_mcp.tooling import ToolContext, ToolRequest, ToolResponse, ToolSet
from support.lifespan import running
from support.tokens import MAINNET, TESTNET, auth

EXPECTED = {
    errors.CerberoError: (500, "UNHANDLED_EXCEPTION", False),
    errors.RequestError: (400, "BAD_REQUEST", False),
    errors.BadRequestError: (400, "BAD_REQUEST", False),
    errors.UnauthorizedError: (401, "UNAUTHORIZED", False),
    errors.ForbiddenError: (403, "FORBIDDEN", False),
    errors.NotFoundError: (404, "NOT_FOUND", False),
    errors.MethodNotAllowedError: (405, "METHOD_NOT_ALLOWED", False),
    errors.IdempotencyConflictError: (409, "IDEMPOTENCY_CONFLICT", False),
    errors.PayloadTooLargeError: (413, "PAYLOAD_TOO_LARGE", False),
    errors.InvalidInputError: (422, "INVALID_INPUT", False),
    errors.KillSwitchEngagedError: (423, "KILL_SWITCH_ENGAGED", False),
    errors.LeverageCapExceededError: (403, "LEVERAGE_CAP_EXCEEDED", False),
    errors.OrderNotionalLimitError: (403, "ORDER_NOTIONAL_LIMIT", False),
    errors.OrderQtyLimitError: (403, "ORDER_QTY_LIMIT", False),
    errors.OrderRateLimitError: (403, "ORDER_RATE_LIMIT", False),
    errors.SymbolNotAllowedError: (403, "SYMBOL_NOT_ALLOWED", False),
    errors.TotalNotionalLimitError: (403, "TOTAL_NOTIONAL_LIMIT", False),
    errors.NetDeltaLimitError: (403, "NET_DELTA_LIMIT", False),
    errors.PatternDayTraderError: (403, "PDT_LIMIT", False),
    errors.OutsideTradingWindowError: (403, "OUTSIDE_TRADING_WINDOW", False),
    errors.ApprovalInvalidError: (403, "APPROVAL_INVALID", False),
    errors.ApprovalRequiredError: (202, "APPROVAL_REQUIRED", False),
    errors.ExposureUnknownError: (503, "EXPOSURE_UNKNOWN", True),
    errors.InsufficientFundsError: (400, "INSUFFICIENT_FUNDS", False),
    errors.InvalidOrderError: (400, "INVALID_ORDER", False),
    errors.OrderNotFoundError: (404, "ORDER_NOT_FOUND", False),
    errors.OperationError: (502, "UPSTREAM_ERROR", False),
    errors.NotConfiguredError: (503, "NOT_CONFIGURED", False),
    errors.AuditUnavailableError: (503, "AUDIT_UNAVAILABLE", True),
    errors.AuthUnavailableError: (503, "AUTH_UNAVAILABLE", True),
    errors.UpstreamAuthError: (502, "UPSTREAM_AUTH", False),
    errors.RateLimitError: (429, "RATE_LIMIT", True),
    errors.UpstreamError: (502, "UPSTREAM_ERROR", True),
    errors.UpstreamTimeoutError: (504, "UPSTREAM_TIMEOUT", True),
    errors.UnhandledError: (500, "UNHANDLED_EXCEPTION", False),
}


def test_every_error_class_has_a_status_code_and_retryable_flag() -> None:
    assert set(errors.all_error_classes()) == set(EXPECTED)
    for cls, (status, code, retryable) in EXPECTED.items():
        assert (cls.status, cls.code, cls.retryable) == (status, code, retryable), cls.__name__


def test_to_dict_omits_empty_optional_fields() -> None:
    assert errors.InvalidOrderError("bad").to_dict() == {
        "type": "InvalidOrderError",
        "code": "INVALID_ORDER",
        "message": "bad",
        "retryable": False,
    }
    full = errors.InvalidOrderError("bad", suggested_fix="fix", details={"a": 1}).to_dict()
    assert full["suggested_fix"] == "fix"
    assert full["details"] == {"a": 1}


class RaiseRequest(ToolRequest):
    """Which class to raise."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "RateLimitError"}]})
    name: str


RAISER = ToolSet("raiser")


@RAISER.read("raise")
async def raise_named(ctx: ToolContext, req: RaiseRequest) -> ToolResponse:
    """Raise the named error class."""
    cls = next(c for c in errors.all_error_classes() if c.__name__ == req.name)
    raise cls(f"raised {req.name}")


@pytest.fixture
def raiser_app(tmp_path: Path) -> FastAPI:
    """Return an app whose one tool raises any error class (its audit and state under tmp_path)."""
    settings = {"TESTNET_TOKEN": TESTNET, "MAINNET_TOKEN": MAINNET, "DATA_DIR": str(tmp_path)}
    return build_app(Settings.from_mapping(settings), [RAISER])


@pytest.mark.parametrize("cls", list(EXPECTED), ids=lambda c: c.__name__)
async def test_handler_renders_each_class_as_its_status_and_envelope(
    raiser_app: FastAPI, cls: type[errors.CerberoError]
) -> None:
    async with running(raiser_app):
        transport = httpx.ASGITransport(app=raiser_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            response = await http.post("/mcp-raiser/tools/raise", json={"name": cls.__name__}, headers=auth())
    status, code, retryable = EXPECTED[cls]
    assert response.status_code == status
    body = response.json()
    assert body["error"]["code"] == code
    assert body["error"]["type"] == cls.__name__
    assert body["error"]["retryable"] is retryable
    assert body["error"]["message"] == f"raised {cls.__name__}"
    assert set(body) == {"error", "request_id", "data_timestamp"}
