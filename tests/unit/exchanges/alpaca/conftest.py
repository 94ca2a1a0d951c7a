"""Fixtures of the Alpaca unit tests: a client answering with Alpaca's documented bodies, and a tool context."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from unit.exchanges.alpaca.alpaca_documented import Ctx, DocumentedClient


@pytest.fixture
async def documented() -> AsyncIterator[DocumentedClient]:
    client = DocumentedClient()
    yield client
    await client.aclose()


@pytest.fixture
def ctx(documented: DocumentedClient) -> Any:
    return Ctx(documented)
