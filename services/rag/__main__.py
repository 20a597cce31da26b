if __name__ == "__main__":
    from services.rag.app import create_app
    from services.rag.settings import RagSettings
    from shared.runtime import run_service

    run_service("rag", RagSettings(), create_app)
