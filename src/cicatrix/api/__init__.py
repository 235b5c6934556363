"""The HTTP API (FastAPI). `create_app(settings)` in `cicatrix.api.app` builds it."""
