"""Who is calling: API keys, roles, the per-route access matrix and the request context."""
