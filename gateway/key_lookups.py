"""One tenant-service lookup per public key at a time.

`gateway.auth.public_tenant` caches what the tenant service says about a key for a short while; when
that entry runs out under load, every request carrying the key would ask the tenant service at once
(a burst of identical calls, each waiting behind the others). `public_tenant_once` lets the first
request ask and the others wait for it, then answers each of them through `public_tenant` itself,
from the entry just stored, so every check (key shape, activity, browser origin) still runs per
request.
"""

from __future__ import annotations

import asyncio

from fastapi import Request

from gateway.auth import TenantContext, public_tenant

STATE_ATTRIBUTE = "public_key_lookups"


async def public_tenant_once(request: Request) -> TenantContext:
    """`public_tenant`, with concurrent lookups of one key coalesced into one service call."""
    key = request.headers.get("x-tenant-key", "")
    state = request.app.state
    lookups: dict[str, asyncio.Future[None]] | None = getattr(state, STATE_ATTRIBUTE, None)
    if lookups is None:
        lookups = {}
        setattr(state, STATE_ATTRIBUTE, lookups)
    pending = lookups.get(key)
    if pending is not None:
        await asyncio.shield(pending)
        return await public_tenant(request)
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    lookups[key] = done
    try:
        return await public_tenant(request)
    finally:
        del lookups[key]
        done.set_result(None)
