"""The one error hierarchy every part of Cerbero raises, and the envelope it becomes.

    CerberoError                        status  code
    ├── RequestError                    — the request is wrong; retrying it unchanged will fail again
    │   ├── BadRequestError             400  BAD_REQUEST
    │   ├── UnauthorizedError           401  UNAUTHORIZED
    │   ├── ForbiddenError              403  FORBIDDEN
    │   │   ├── OrderNotionalLimitError 403  ORDER_NOTIONAL_LIMIT
    │   │   ├── OrderQtyLimitError      403  ORDER_QTY_LIMIT
    │   │   ├── OrderRateLimitError     403  ORDER_RATE_LIMIT
    │   │   ├── SymbolNotAllowedError   403  SYMBOL_NOT_ALLOWED
    │   │   ├── TotalNotionalLimitError 403  TOTAL_NOTIONAL_LIMIT  (cross-venue cap, risk desk)
    │   │   ├── NetDeltaLimitError      403  NET_DELTA_LIMIT       (cross-venue cap, risk desk)
    │   │   ├── PatternDayTraderError   403  PDT_LIMIT
    │   │   ├── OutsideTradingWindowError 403 OUTSIDE_TRADING_WINDOW
    │   │   └── ApprovalInvalidError    403  APPROVAL_INVALID      (unknown, pending, rejected, expired, altered)
    │   ├── NotFoundError               404  NOT_FOUND
    │   ├── MethodNotAllowedError       405  METHOD_NOT_ALLOWED
    │   ├── ApprovalRequiredError       202  APPROVAL_REQUIRED (held for an admin; details carry the approval id)
    │   ├── IdempotencyConflictError    409  IDEMPOTENCY_CONFLICT
    │   ├── PayloadTooLargeError        413  PAYLOAD_TOO_LARGE
    │   ├── InvalidInputError           422  INVALID_INPUT
    │   ├── KillSwitchEngagedError      423  KILL_SWITCH_ENGAGED
    │   ├── LeverageCapExceededError    403  LEVERAGE_CAP_EXCEEDED
    │   ├── InsufficientFundsError      400  INSUFFICIENT_FUNDS
    │   ├── InvalidOrderError           400  INVALID_ORDER
    │   └── OrderNotFoundError          404  ORDER_NOT_FOUND
    ├── OperationError                  — the operation failed; `retryable` says if trying again may help
    │   ├── NotConfiguredError          503  NOT_CONFIGURED
    │   ├── AuditUnavailableError       503  AUDIT_UNAVAILABLE (retryable)
    │   ├── ExposureUnknownError        503  EXPOSURE_UNKNOWN  (retryable; a cross-venue cap failed closed)
    │   ├── AuthUnavailableError        503  AUTH_UNAVAILABLE  (retryable)
    │   ├── UpstreamAuthError           502  UPSTREAM_AUTH
    │   ├── RateLimitError              429  RATE_LIMIT        (retryable)
    │   ├── UpstreamError               502  UPSTREAM_ERROR    (retryable)
    │   └── UpstreamTimeoutError        504  UPSTREAM_TIMEOUT  (retryable)
    └── UnhandledError                  500  UNHANDLED_EXCEPTION

Adapters raise these classes, never `HTTPException`; `server.py` has the one handler that turns
them into the envelope `{"error": {...}, "request_id", "data_timestamp"}`.
"""

from __future__ import annotations

from typing import Any, ClassVar


class CerberoError(Exception):
    """Base of every error Cerbero reports to a client."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "UNHANDLED_EXCEPTION"
    retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        suggested_fix: str | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.suggested_fix = suggested_fix
        self.details = details
        self.headers = headers or {}
        # True only when the venue itself refused a write it received (its own error code): the write
        # pipeline then knows nothing was placed. Anything else after a write was sent is "unknown".
        self.definite = False

    @property
    def type(self) -> str:
        """Return the class name clients see as `error.type`."""
        return type(self).__name__

    def to_dict(self) -> dict[str, Any]:
        """Return the `error` object of the envelope."""
        body: dict[str, Any] = {
            "type": self.type,
            "code": self.code,
            "message": self.message,
            "retryable": self.retryable,
        }
        if self.suggested_fix:
            body["suggested_fix"] = self.suggested_fix
        if self.details:
            body["details"] = self.details
        return body


class RequestError(CerberoError):
    """The request is wrong: fix it before sending it again."""

    status = 400
    code = "BAD_REQUEST"


class BadRequestError(RequestError):
    """Malformed request (headers, JSON) that cannot be processed."""

    status = 400
    code = "BAD_REQUEST"


class UnauthorizedError(RequestError):
    """Missing or unknown bearer token."""

    status = 401
    code = "UNAUTHORIZED"


class ForbiddenError(RequestError):
    """The caller is authenticated but may not do this."""

    status = 403
    code = "FORBIDDEN"


class NotFoundError(RequestError):
    """No such route, tool or resource."""

    status = 404
    code = "NOT_FOUND"


class MethodNotAllowedError(RequestError):
    """The route exists but not for this HTTP method."""

    status = 405
    code = "METHOD_NOT_ALLOWED"


class IdempotencyConflictError(RequestError):
    """An idempotency key was reused with a different request body."""

    status = 409
    code = "IDEMPOTENCY_CONFLICT"


class PayloadTooLargeError(RequestError):
    """The request body is larger than MAX_BODY_BYTES; the rest of it was not read."""

    status = 413
    code = "PAYLOAD_TOO_LARGE"


class InvalidInputError(RequestError):
    """The body or a parameter failed validation."""

    status = 422
    code = "INVALID_INPUT"


class KillSwitchEngagedError(RequestError):
    """Writes are blocked by the kill switch."""

    status = 423
    code = "KILL_SWITCH_ENGAGED"


class LeverageCapExceededError(RequestError):
    """The order would take the account past its leverage cap."""

    status = 403
    code = "LEVERAGE_CAP_EXCEEDED"


class OrderNotionalLimitError(ForbiddenError):
    """The order's notional is above the configured per-order cap."""

    status = 403
    code = "ORDER_NOTIONAL_LIMIT"


class OrderQtyLimitError(ForbiddenError):
    """The order's quantity is above the configured per-order cap."""

    status = 403
    code = "ORDER_QTY_LIMIT"


class OrderRateLimitError(ForbiddenError):
    """The bot sent more orders in the last minute than allowed."""

    status = 403
    code = "ORDER_RATE_LIMIT"


class SymbolNotAllowedError(ForbiddenError):
    """The instrument is not on this environment's allowlist."""

    status = 403
    code = "SYMBOL_NOT_ALLOWED"


class TotalNotionalLimitError(ForbiddenError):
    """The write would take the environment's cross-venue gross notional above MAX_TOTAL_NOTIONAL_USD."""

    status = 403
    code = "TOTAL_NOTIONAL_LIMIT"


class NetDeltaLimitError(ForbiddenError):
    """The write would take an underlying's cross-venue net delta above MAX_NET_DELTA_USD."""

    status = 403
    code = "NET_DELTA_LIMIT"


class PatternDayTraderError(ForbiddenError):
    """The write would be a day trade the pattern-day-trader rule does not allow (PDT_GUARD)."""

    status = 403
    code = "PDT_LIMIT"


class OutsideTradingWindowError(ForbiddenError):
    """An opening write outside the scope's TRADING_WINDOWS."""

    status = 403
    code = "OUTSIDE_TRADING_WINDOW"


class ApprovalInvalidError(ForbiddenError):
    """The approval id is unknown, still pending, rejected, expired, used, or was given for another request."""

    status = 403
    code = "APPROVAL_INVALID"


class ApprovalRequiredError(RequestError):
    """The write is held for an admin's approval (REQUIRE_APPROVAL_ABOVE_USD); `details` carry its id and preview.

    202, not a 4xx: the request was accepted for review; it is sent only when the bot re-sends it with
    the approval id after an admin approved it.
    """

    status = 202
    code = "APPROVAL_REQUIRED"


class InsufficientFundsError(RequestError):
    """The venue said the account cannot afford this."""

    status = 400
    code = "INSUFFICIENT_FUNDS"


class InvalidOrderError(RequestError):
    """The venue rejected the order as invalid."""

    status = 400
    code = "INVALID_ORDER"


class OrderNotFoundError(RequestError):
    """The venue does not know this order."""

    status = 404
    code = "ORDER_NOT_FOUND"


class OperationError(CerberoError):
    """The operation failed; `retryable` says whether trying again may help."""

    status = 502
    code = "UPSTREAM_ERROR"


class NotConfiguredError(OperationError):
    """The venue has no credentials (or URL) for this environment."""

    status = 503
    code = "NOT_CONFIGURED"


class AuditUnavailableError(OperationError):
    """The audit log cannot record the write, so nothing was sent."""

    status = 503
    code = "AUDIT_UNAVAILABLE"
    retryable = True


class AuthUnavailableError(OperationError):
    """The OAuth issuer's keys (JWKS) cannot be fetched, so a JWT cannot be checked now."""

    status = 503
    code = "AUTH_UNAVAILABLE"
    retryable = True


class ExposureUnknownError(OperationError):
    """A cross-venue cap could not read a venue's account, so the write was refused (the cap fails closed)."""

    status = 503
    code = "EXPOSURE_UNKNOWN"
    retryable = True


class UpstreamAuthError(OperationError):
    """The venue rejected our credentials."""

    status = 502
    code = "UPSTREAM_AUTH"


class RateLimitError(OperationError):
    """The venue (or this server) rate-limited the call."""

    status = 429
    code = "RATE_LIMIT"
    retryable = True


class UpstreamError(OperationError):
    """The venue failed (5xx, dropped connection, malformed body)."""

    status = 502
    code = "UPSTREAM_ERROR"
    retryable = True


class UpstreamTimeoutError(OperationError):
    """The venue did not answer in time."""

    status = 504
    code = "UPSTREAM_TIMEOUT"
    retryable = True


class UnhandledError(CerberoError):
    """Anything unexpected; the body never carries a stack trace."""

    status = 500
    code = "UNHANDLED_EXCEPTION"


def all_error_classes() -> list[type[CerberoError]]:
    """Return every concrete error class, for the handler test and the docs."""
    seen: list[type[CerberoError]] = []
    stack: list[type[CerberoError]] = [CerberoError]
    while stack:
        cls = stack.pop()
        if cls not in seen:
            seen.append(cls)
            stack.extend(cls.__subclasses__())
    return seen
