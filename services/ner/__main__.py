import asyncio

from services.ner.app import app

asyncio.run(app.run())
