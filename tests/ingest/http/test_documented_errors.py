"""docs/api.md's error-status table and the OpenAPI schema list the same statuses."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from ingest.http.app import ERROR_RESPONSES

API_PAGE = Path(__file__).resolve().parents[3] / "docs" / "api.md"
ROUTING = {405}  # the router's own, on no route in particular


def test_it_documents_every_error_status_in_the_api_pages_table():
    text = API_PAGE.read_text(encoding="utf-8")
    table = text[text.index("**Errors**"):text.index("**Hostile and unlucky clients.**")]

    documented = {int(status) for status in re.findall(r"^\| (\d{3}) \|", table, re.M)}

    assert documented == set(ERROR_RESPONSES) | ROUTING


# The schema as `sensorbot run` and `sensorbot api` serve it: they run without docstrings.
SCHEMA_WITHOUT_DOCSTRINGS = """
import json
from core.config import Settings
from ingest.http.app import create_app
from storage.sqlite import SQLiteStore
print(json.dumps(create_app(Settings(), store=SQLiteStore(":memory:")).openapi()))
"""


def test_the_schema_is_the_same_without_docstrings():
    from core.config import Settings
    from ingest.http.app import create_app
    from storage.sqlite import SQLiteStore

    served = subprocess.run([sys.executable, "-OO", "-c", SCHEMA_WITHOUT_DOCSTRINGS],
                            cwd=API_PAGE.parents[1], capture_output=True, text=True,
                            timeout=60, check=True).stdout
    schema = create_app(Settings(), store=SQLiteStore(":memory:")).openapi()

    assert json.loads(served) == schema
    assert schema["components"]["schemas"]["RuuviGatewayIn"]["description"]
