"""Proposals of indicators by departments, their automated checks and their review."""
