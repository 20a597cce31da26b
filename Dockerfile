# One image per service, each with only its own dependencies: its uv workspace member
# (services/<SERVICE>/pyproject.toml) synced from uv.lock, so the API image has no spaCy, ONNX
# or OCR models and no Propan, and no worker image has FastAPI. docker-compose.yml builds each:
#   docker build --build-arg SERVICE=api -t jobs-api .
#   docker build --build-arg SERVICE=ner --build-arg EXTRAS="--extra propan" -t jobs-ner .
FROM python:3.11-slim
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /usr/local/bin/uv
ARG SERVICE=api
# The workers' Propan comes with their `propan` extra; the API has none.
ARG EXTRAS=""
WORKDIR /app
# opencv-python (a dependency of rapidocr-onnxruntime: the OCR and rag workers) loads libGL and glib.
RUN if [ "$SERVICE" = ocr ] || [ "$SERVICE" = rag ]; then \
        apt-get update && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 \
        && rm -rf /var/lib/apt/lists/*; \
    fi
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
# The dependencies first, in a layer that changes only with uv.lock. uv reads every member's
# pyproject.toml to know the workspace; only this service's member is installed.
COPY pyproject.toml uv.lock ./
COPY shared/pyproject.toml shared/
COPY services/api/pyproject.toml services/api/
COPY services/ner/pyproject.toml services/ner/
COPY services/ocr/pyproject.toml services/ocr/
COPY services/llm/pyproject.toml services/llm/
COPY services/projector/pyproject.toml services/projector/
COPY services/rag/pyproject.toml services/rag/
COPY services/pipeline/pyproject.toml services/pipeline/
COPY tools/asyncapi/pyproject.toml tools/asyncapi/
RUN uv sync --frozen --no-dev --package "jobs-$SERVICE" $EXTRAS
# The code: shared/ and this service only (the members are not packaged: it runs from /app).
COPY shared ./shared
# propan_wiring.py: the consumers' one Propan handler factory (the API never imports it).
COPY services/__init__.py services/propan_wiring.py services/
COPY services/$SERVICE services/$SERVICE
# The OCR engine module, which the rag worker imports for scanned pages (a few KB in every image).
COPY services/ocr/__init__.py services/ocr/engines.py services/ocr/
# The contract the API serves at /asyncapi.yaml.
COPY asyncapi.yaml ./
ENV PATH="/app/.venv/bin:$PATH" PYTHONUNBUFFERED=1 SERVICE=$SERVICE
RUN mkdir -p /data/files && chown nobody /data/files
USER nobody
CMD exec python -m "services.$SERVICE"
