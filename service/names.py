"""The one type for a required name or title: surrounding whitespace (the ideographic space U+3000
included) is stripped, and what remains must not be empty.

A plain ``str`` with ``min_length=1`` accepts "   ", which a service later strips to a blank name.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, StringConstraints


def _strip(v: Any) -> Any:
    # str.strip() without arguments strips every Unicode whitespace, U+3000 among them.
    return v.strip() if isinstance(v, str) else v


RequiredName = Annotated[str, BeforeValidator(_strip), StringConstraints(min_length=1)]
