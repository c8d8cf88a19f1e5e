"""A generated corpus of hostile import files (issue #8, "hostile files")."""
