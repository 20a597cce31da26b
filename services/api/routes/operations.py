from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from shared.schemas import OPERATIONS

router = APIRouter(prefix="/v1/operations", tags=["operations"])


class OperationView(BaseModel):
    name: str
    description: str
    input_schema: dict[str, Any]
    example: dict[str, Any] | None


@router.get("", summary="The operations jobs can run, with their input schemas")
async def list_operations() -> list[OperationView]:
    views = []
    for op in OPERATIONS.values():
        schema = op.input_model.model_json_schema()
        examples = schema.get("examples") or [None]
        views.append(
            OperationView(name=op.name, description=op.description, input_schema=schema, example=examples[0])
        )
    return views
