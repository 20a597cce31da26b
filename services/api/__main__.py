import logging

import uvicorn

from services.api.app import create_app
from services.api.settings import ApiSettings

settings = ApiSettings()
logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
uvicorn.run(
    create_app(settings), host=settings.host, port=settings.port, log_level=settings.log_level.lower()
)
