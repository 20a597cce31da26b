from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Broker and Redis answer (503 otherwise)",
    responses={503: {"description": "Not ready: the same body, saying which one is unavailable"}},
)
async def readyz(request: Request) -> JSONResponse:
    state = request.app.state
    checks = {"broker": "ok" if state.publisher.is_connected else "unavailable"}
    try:
        await state.store.redis.ping()
        checks["redis"] = "ok"
    except Exception:
        checks["redis"] = "unavailable"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse({"ready": ready, **checks}, status_code=200 if ready else 503)
