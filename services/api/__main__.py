import uvicorn

from services.api.app import create_app
from services.api.settings import ApiSettings
from shared.telemetry.setup import init_telemetry


def main() -> None:
    settings = ApiSettings()
    init_telemetry("api", settings)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        timeout_keep_alive=settings.http_idle_timeout,
        log_config=None,  # uvicorn's loggers go through the one structured setup (init_telemetry)
    )


if __name__ == "__main__":
    main()
