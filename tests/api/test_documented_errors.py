"""docs/api.md's error-status table and the OpenAPI schema list the same statuses."""

from __future__ import annotations

import re
from pathlib import Path

from ingest.http.app import ERROR_RESPONSES

API_PAGE = Path(__file__).resolve().parents[2] / "docs" / "api.md"
ROUTING = {405}  # the router's own, on no route in particular


def test_it_documents_every_error_status_in_the_api_pages_table():
    text = API_PAGE.read_text(encoding="utf-8")
    table = text[text.index("**Errors**"):text.index("**Hostile and unlucky clients.**")]

    documented = {int(status) for status in re.findall(r"^\| (\d{3}) \|", table, re.M)}

    assert documented == set(ERROR_RESPONSES) | ROUTING
