from celery.result import AsyncResult
from fastapi import FastAPI
from tasks import app as celery_app
from tasks import echo, ner

api = FastAPI()


@api.post("/tasks", status_code=202)
async def submit(body: dict):
    if body.get("operation") == "ner.entities":
        r = ner.delay(body["input"]["text"])
    else:
        r = echo.delay(body.get("text", ""), int(body.get("steps", 3)))
    return {"task_id": r.id}


@api.get("/tasks/{task_id}")
async def status(task_id: str):
    r = AsyncResult(task_id, app=celery_app)
    return {"task_id": task_id, "status": r.status}
