"""Catalogue quality lint: GET /v1/quality."""
