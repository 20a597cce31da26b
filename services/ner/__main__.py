# Guarded: a spawned child process (such as the NER model process) imports the main module again.
if __name__ == "__main__":
    from services.ner.app import create_app
    from services.ner.settings import NerSettings
    from shared.runtime import run_service

    run_service("ner", NerSettings(), create_app)
