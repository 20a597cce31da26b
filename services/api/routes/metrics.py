from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from services.api.deps import AdminDep
from services.api.responses import error_responses

router = APIRouter(tags=["health"])


# Only when API_METRICS_PORT is 0: with an internal listener, the public port has no /metrics.
@router.get(
    "/metrics",
    summary="Prometheus metrics of this API process (admin keys only)",
    response_class=Response,
    responses=error_responses(401, 403),
)
async def metrics(_: AdminDep) -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
