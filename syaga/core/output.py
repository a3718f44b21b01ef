"""What commands print for machines (``--json``): one format for the whole project."""

import json


def json_dumps(data) -> str:
    """Indented JSON with French text kept readable (no ``\\u00e9`` escapes)."""
    return json.dumps(data, ensure_ascii=False, indent=2)
