# Guarded: a spawned child process (such as the NER model process) imports the main module again.
if __name__ == "__main__":
    from services.llm.app import create_app
    from services.llm.settings import LlmSettings
    from shared.runtime import run_service

    run_service("llm", LlmSettings(), create_app)
