# Guarded: a spawned child process imports the main module again.
if __name__ == "__main__":
    from services.pipeline.app import create_app
    from services.pipeline.settings import PipelineSettings
    from shared.runtime import run_service

    run_service("pipeline", PipelineSettings(), create_app)
