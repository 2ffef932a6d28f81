"""Fails make test-conformance when schemathesis did not reach all of
openapi.yaml: prints each operation's answers by status and each link's
uses, from schemathesis's NDJSON events.

  conformance_check.py openapi.yaml events.ndjson [more.ndjson ...]

Required: every operation answered at least once past authentication (not
401, 403 or 429; the operator routes under the operator's token), and with
a success (2xx) but for the few that the run cannot bring to one (NO_2XX,
with why); and the links of REQUIRED_LINKS followed. The stateful phase
picks its links at random, so the others are reported, not required. A
2xx of an operation that takes an id in its path (status, cancel, delete,
a bulk action's status) shows the id came from an answer, through
a link or schemathesis's pool of values taken from answers: a generated
id finds nothing.
"""

import collections
import json
import sys

import yaml

METHODS = ("get", "put", "post", "delete", "patch", "head", "options")

# Operations a generated request cannot bring to a 2xx, and why.
NO_2XX = {
    "POST /api/suno/callback": "needs a URL the service signed for one attempt (g, sig): every generated one is refused 403 or 404",
}


# Links every run must follow (source operation, link name). The stateful
# phase's scenarios vary from run to run even with one seed (they depend
# on the stack's timing, and a bulk action is confirmed only when the
# generator picks dryRun false), so only a song's links from its create
# (to status, cancel and delete) are required (scripts/conformance.sh runs
# more stateful rounds until they are followed); the others are reported.
REQUIRED_LINKS = {
    ("POST /api/generation/create", "GetGeneration"),
    ("POST /api/generation/create", "CancelGeneration"),
    ("POST /api/generation/create", "DeleteGeneration"),
}


def _lines(paths):
    for path in paths:
        with open(path) as f:
            yield from f


def main(spec_path, *events_paths):
    with open(spec_path) as f:
        spec = yaml.safe_load(f)
    ops, by_id, links = [], {}, []
    for path, item in spec["paths"].items():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            label = f"{method.upper()} {path}"
            ops.append(label)
            if "operationId" in op:
                by_id[op["operationId"]] = label
    for path, item in spec["paths"].items():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            for status, resp in op.get("responses", {}).items():
                if "$ref" in resp:
                    resp = spec["components"]["responses"][resp["$ref"].rsplit("/", 1)[1]]
                for name, link in (resp.get("links") or {}).items():
                    target = by_id.get(link.get("operationId"))
                    if target is None:
                        print(f"link {name} of {method.upper()} {path} names no operationId of the document", file=sys.stderr)
                        return 1
                    links.append((f"{method.upper()} {path}", str(status), name, target))

    answers = collections.defaultdict(collections.Counter)  # operation -> status -> count
    followed = collections.defaultdict(collections.Counter)  # transition id -> target status -> count
    for line in _lines(events_paths):
        event = json.loads(line)
        finished = event.get("ScenarioFinished")
        if not finished:
            continue
        recorder = finished.get("recorder") or {}
        cases = recorder.get("cases") or {}
        interactions = recorder.get("interactions") or {}
        for case_id, node in cases.items():
            value = node.get("value") or {}
            label = f"{value.get('method')} {value.get('path')}"
            interaction = interactions.get(case_id)
            if not interaction or not interaction.get("response"):
                continue
            code = interaction["response"]["status_code"]
            answers[label][code] += 1
            transition = node.get("transition")
            if transition and node.get("is_transition_applied"):
                followed[transition["id"]][code] += 1

    problems = []
    print("\noperations reached (answers by status):")
    for label in ops:
        got = answers.get(label, collections.Counter())
        shown = ", ".join(f"{code}×{n}" for code, n in sorted(got.items())) or "none"
        print(f"  {label:45} {shown}")
        if not any(code not in (401, 403, 429) for code in got):
            problems.append(f"{label} was never answered past authentication (401, 403, 429 only)")
        elif label not in NO_2XX and not any(200 <= code < 300 for code in got):
            problems.append(f"{label} never succeeded (no 2xx)")
    for label, why in NO_2XX.items():
        print(f"  ({label}: no 2xx required: {why})")

    print("\nlinks followed in the stateful phase (the target's answers by status):")
    for source, status, name, target in links:
        tid = f"{source} -> [{status}] {name} -> {target}"
        got = followed.get(tid, collections.Counter())
        shown = ", ".join(f"{code}×{n}" for code, n in sorted(got.items())) or "never"
        print(f"  {tid}: {shown}")
        if not got and (source, name) in REQUIRED_LINKS:
            problems.append(f"the link {tid} was never followed")
    for target in sorted({t for _, _, _, t in links}):
        if not any(followed.get(f"{s} -> [{c}] {n} -> {t}") for s, c, n, t2 in links if t2 == target for t in [target]):
            print(f"  (no link of the document led to {target} in this run)")
    inferred = sorted(t for t in followed if not any(t == f"{s} -> [{c}] {n} -> {d}" for s, c, n, d in links))
    if inferred:
        print("\nlinks schemathesis inferred and followed besides:")
        for tid in inferred:
            print(f"  {tid}: " + ", ".join(f"{code}×{n}" for code, n in sorted(followed[tid].items())))

    if problems:
        print("\nconformance: not everything was reached:", file=sys.stderr)
        for p in problems:
            print("  - " + p, file=sys.stderr)
        return 1
    taken = sum(1 for s, c, n, t in links if followed.get(f"{s} -> [{c}] {n} -> {t}"))
    print(f"\nconformance: all {len(ops)} operations reached; {taken} of the document's {len(links)} links followed")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
