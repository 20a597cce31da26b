from services.ocr.app import app
from shared.runtime import run_until_signalled

run_until_signalled(app)
