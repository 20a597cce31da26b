import asyncio

from services.projector.app import app

asyncio.run(app.run())
