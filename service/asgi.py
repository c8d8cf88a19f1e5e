"""ASGI entry point for multi-worker servers: ``uvicorn service.asgi:app``."""

from service.app import create_app

app = create_app()
