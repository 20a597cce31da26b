# Guarded: a spawned child process (such as the NER model process) imports the main module again.
if __name__ == "__main__":
    from services.ocr.app import create_app
    from services.ocr.settings import OcrSettings
    from shared.runtime import run_service

    run_service("ocr", OcrSettings(), create_app)
