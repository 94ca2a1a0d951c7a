"""Fixtures of the Bybit unit tests: a client answering with Bybit's documented bodies, and a tool context."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from unit.exchanges.bybit.bybit_documented import Ctx, DocumentedClient


@pytest.fixture
async def documented() -> AsyncIterator[DocumentedClient]:
    client = DocumentedClient()
    yield client
    await client.aclose()


@pytest.fixture
def ctx(documented: DocumentedClient) -> Any:
    return Ctx(documented)
