"""The REST API (FastAPI). Built in a later milestone; the package exists so the layout is fixed."""
