"""schemathesis hooks for make test-conformance.

Only what JSON Schema cannot say: openapi.yaml states it in words, and
these teach the generator, without changing what a check accepts.
"""

import os
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


# A cursor is a nextCursor the API returned (openapi.yaml; 400
# invalid_cursor otherwise): no schema can single those out of all strings.
# scripts/conformance.sh reads one of each listing before the run; a
# generated string cursor is replaced by it (a cursor of another type, a
# negative case, is left as it is). The NextPage links follow real ones.
def _with_cursor(query, name):
    cursor = os.environ.get(name)
    if cursor and isinstance(query, dict) and isinstance(query.get("cursor"), str):
        query["cursor"] = cursor
    return query


@schemathesis.hook.apply_to(path="/api/generation", method="GET")
def map_query(ctx, query):
    return _with_cursor(query, "SQ_USER_CURSOR")


@schemathesis.hook.apply_to(path="/api/admin/generations", method="GET")
def map_query(ctx, query):  # noqa: F811 (each registration is its own hook)
    return _with_cursor(query, "SQ_ADMIN_CURSOR")
