"""schemathesis hooks for make test-conformance.

Only what JSON Schema cannot say: openapi.yaml states it in words, and
these teach the generator, without changing what a check accepts.
"""

from datetime import datetime

import schemathesis


def _instant(value):
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


@schemathesis.hook.apply_to(path="/api/admin/bulk", method="POST")
def map_body(ctx, body):
    """A bulk filter's createdAfter must be before its createdBefore
    (BulkFilter; 400 invalid_range otherwise), a comparison of two fields
    that no schema keyword makes. Two valid instants out of order are
    swapped, equal ones lose createdBefore: each field stays as valid, or
    as invalid, as it was generated."""
    f = body.get("filter") if isinstance(body, dict) else None
    if isinstance(f, dict):
        after, before = _instant(f.get("createdAfter")), _instant(f.get("createdBefore"))
        if after is not None and before is not None and after.tzinfo and before.tzinfo:
            if after > before:
                f["createdAfter"], f["createdBefore"] = f["createdBefore"], f["createdAfter"]
            elif after == before:
                del f["createdBefore"]
    return body
