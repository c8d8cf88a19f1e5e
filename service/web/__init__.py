"""Browser pages for department staff and reviewers (``/ui``), on the API's own services.

One module per room: ``catalogue`` (log-in, search, indicator, suggest; ``suggest_page``: its drafts), ``policies`` (legal bases and
the impact of a change), ``review`` (proposals and their review); ``rendering`` is what they share.
"""

from fastapi import APIRouter

from service.web import catalogue, policies, review, suggest_page
from service.web.rendering import HERE

ROOMS = (catalogue.router, suggest_page.router, policies.router, review.router)
router = APIRouter(include_in_schema=False)
for room in ROOMS:
    router.include_router(room, prefix="/ui")

__all__ = ["HERE", "ROOMS", "router"]
