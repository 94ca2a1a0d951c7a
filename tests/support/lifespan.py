"""Run an app's lifespan in its own task, so fixtures may set up and tear down in different tasks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[None]:
    """Enter the app's lifespan in a helper task and leave it when the block ends."""
    started, stop = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with app.router.lifespan_context(app):
            started.set()
            await stop.wait()

    task = asyncio.create_task(hold())
    waiter = asyncio.create_task(started.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        waiter.cancel()
        task.result()  # lifespan failed: raise its error here
    try:
        yield
    finally:
        stop.set()
        await task
