"""Backup and restore of the whole relational state: catalogue, history, releases, proposals, audit, keys."""
