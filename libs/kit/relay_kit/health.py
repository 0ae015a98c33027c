"""`/healthz` (ready only when broker and store answer) and `/metrics` for every service."""

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from relay_kit.metrics import metrics_response

router = APIRouter(tags=["operations"])


@router.get("/healthz", include_in_schema=False)
async def healthz(request: Request) -> JSONResponse:
    """Ready when the broker and the database both answer."""
    runtime = request.app.state.runtime
    checks: dict[str, Any] = {}
    checks["store"] = await _check(runtime.database.command("ping"))
    checks["broker"] = await _check(runtime.broker.ping(timeout=2.0)) if runtime.broker_started else False
    healthy = all(checks.values())
    return JSONResponse(
        {"status": "ok" if healthy else "unavailable", "service": runtime.settings.service_name, "checks": checks},
        status_code=200 if healthy else 503,
    )


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    """Prometheus exposition."""
    return metrics_response()


async def _check(awaitable: Any) -> bool:
    try:
        result = await asyncio.wait_for(awaitable, timeout=3.0)
    except Exception:
        return False
    return result is not False
