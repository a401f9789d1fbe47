"""The HTTP server: OpenAI-compatible chat over knowledge bases, knowledge-base routes, API keys.

``app.create_app`` builds the FastAPI application; ``auth`` keeps every route but ``/health`` behind an
API key; ``answering`` owns the one shared base model and serialises answers on it; ``schemas`` are the
OpenAI request and response shapes.
"""
