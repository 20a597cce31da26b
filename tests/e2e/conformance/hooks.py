"""Schemathesis hooks (`SCHEMATHESIS_HOOKS=tests.e2e.conformance.hooks`): requests as a
client would send them where the schema cannot say it."""

import hashlib
import io
from typing import Any

import hypothesis.strategies as st
import schemathesis
from PIL import Image
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.case import Case

from shared.schemas import SUPPORTED_CONTENT_TYPES

PILLOW_FORMATS = {
    "application/pdf": "PDF",
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/tiff": "TIFF",
    "image/webp": "WEBP",
    "image/bmp": "BMP",
}


def smallest_file(content_type: str) -> bytes:
    out = io.BytesIO()
    Image.new("L", (8, 8), 255).save(out, PILLOW_FORMATS[content_type])
    return out.getvalue()


# Uploads are documented as one of the supported types, judged from the bytes: send real files.
for content_type in SUPPORTED_CONTENT_TYPES:
    schemathesis.openapi.media_type(content_type, st.just(smallest_file(content_type)))

IDEMPOTENCY_KEY_MAX = 255


@schemathesis.hook
def before_call(context: schemathesis.HookContext, case: Case[Any], kwargs: dict[str, Any]) -> None:
    """Schemathesis reuses a generated header value across unrelated requests; a client gives
    each distinct request its own Idempotency-Key. (A key reused with another body is a 422
    by design, tested in test_idempotency.py.) A key over the limit stays as generated: too long."""
    _a_valid_pipeline(case)
    for name, value in (case.headers or {}).items():
        if name.lower() == "idempotency-key" and isinstance(value, str) and len(value) <= IDEMPOTENCY_KEY_MAX:
            suffix = "-" + hashlib.sha256(repr(case.body).encode()).hexdigest()[:16]
            case.headers[name] = value[: IDEMPOTENCY_KEY_MAX - len(suffix)] + suffix


def _a_valid_pipeline(case: Case[Any]) -> None:
    """A pipeline's steps are checked against their operations' own input models, which the
    schema cannot say per step: a schema-valid pipeline body gets steps a client would send."""
    body = case.body
    meta = case.meta
    if not isinstance(body, dict) or body.get("operation") != "pipeline" or meta is None:
        return
    if meta.is_negative_at(ParameterLocation.BODY):
        return  # schema-invalid on purpose: sent as generated, must be refused
    body["input"] = {"steps": [{"id": "entities", "operation": "ner.entities", "input": {"text": "Oslo"}}]}
