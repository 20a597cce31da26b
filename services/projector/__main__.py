# Guarded: a spawned child process (such as the NER model process) imports the main module again.
if __name__ == "__main__":
    from services.projector.app import create_app
    from services.projector.settings import ProjectorSettings
    from shared.runtime import run_service

    run_service("projector", ProjectorSettings(), create_app)
