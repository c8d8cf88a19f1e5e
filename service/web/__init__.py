"""Browser pages for department staff and reviewers (``/ui``), on the API's own services."""
