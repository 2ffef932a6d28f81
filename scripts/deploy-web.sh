#!/usr/bin/env bash
# Publishes web/static to a deployed stack's page (what make deploy-web runs).
#
#   scripts/deploy-web.sh <env>      env: a section of samconfig.toml (dev, prod)
#
# 1. the stack name is samconfig.toml's [<env>.deploy.parameters] stack_name;
# 2. its outputs come from `sam list stack-outputs`;
# 3. a temporary copy of web/static gets a config.json pointing the page at
#    the stack's HTTP and WebSocket APIs (and a Cognito hosted UI, if given);
# 4. `aws s3 sync --delete` makes the bucket exactly that copy, every file
#    with Cache-Control: no-cache;
# 5. a CloudFront invalidation of /* drops whatever the edges still hold.
# Running it twice uploads the same files again and changes nothing else.
#
# Environment (make deploy-web sets the first three):
#   SAM                the sam CLI            PYTHON  a Python 3 with tomllib or tomlkit
#   AWS_CLI            the aws CLI (v1 or v2)
#   COGNITO_DOMAIN     optional: a hosted UI domain (auth.example.com, or
#                      <prefix>.auth.<region>.amazoncognito.com) for "Sign in
#                      with Cognito"; its app client must allow the implicit
#                      grant and list <WebUrl>/ as a callback URL
#   COGNITO_CLIENT_ID  that app client; default: the stack's UserPoolClientId
# AWS credentials and region: your profile, as for make deploy.
set -euo pipefail

env_name=${1:?usage: scripts/deploy-web.sh <samconfig env, e.g. dev>}
: "${SAM:?SAM must name the sam CLI}" "${AWS_CLI:?AWS_CLI must name the aws CLI}" "${PYTHON:?PYTHON must name a Python 3}"
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

stack=$("$PYTHON" - "$env_name" <<'PY'
import sys
try:
    import tomllib as toml
    with open("samconfig.toml", "rb") as f:
        config = toml.load(f)
except ImportError:  # Python < 3.11: the SAM CLI's own TOML library
    import tomlkit
    with open("samconfig.toml") as f:
        config = tomlkit.parse(f.read())
env = sys.argv[1]
try:
    print(config[env]["deploy"]["parameters"]["stack_name"])
except KeyError:
    sys.exit(f"samconfig.toml has no [{env}.deploy.parameters] stack_name")
PY
)
echo "stack: $stack" >&2

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
SAM_CLI_TELEMETRY=0 "$SAM" list stack-outputs --stack-name "$stack" --output json >"$tmp/outputs.json"

site=$tmp/site
mkdir "$site"
# What go:embed takes (web/embed.go): everything but names starting with . or _.
cp -R web/static/. "$site/"
find "$site" -mindepth 1 \( -name '.*' -o -name '_*' \) -prune -exec rm -rf {} +

# config.json (web/static/app.js reads it), and where to upload it.
"$PYTHON" - "$stack" "$tmp/outputs.json" "$site/config.json" >"$tmp/target" <<'PY'
import json, os, sys

stack, outputs, path = sys.argv[1:4]
with open(outputs) as f:
    out = {o["OutputKey"]: o["OutputValue"] for o in json.load(f)}
need = ["HttpApiUrl", "WebSocketUrl", "WebUrl", "WebBucketName", "WebDistributionId"]
missing = [k for k in need if not out.get(k)]
if missing:
    sys.exit(f"stack {stack} has no output {', '.join(missing)}: deploy the current template first (make deploy)")

web_url = out["WebUrl"].rstrip("/")
config = {"apiBaseUrl": out["HttpApiUrl"], "wsUrl": out["WebSocketUrl"]}
if out.get("TierClaim"):
    config["tierClaim"] = out["TierClaim"]
domain = os.environ.get("COGNITO_DOMAIN", "").strip()
client = os.environ.get("COGNITO_CLIENT_ID", "").strip() or out.get("UserPoolClientId", "")
if domain:
    if not client:
        sys.exit("COGNITO_DOMAIN needs COGNITO_CLIENT_ID: the stack has no UserPoolClientId")
    config["cognito"] = {"domain": domain, "clientId": client, "redirectUri": web_url + "/"}
with open(path, "w") as f:
    json.dump(config, f, indent=2)
    f.write("\n")
print(out["WebBucketName"], out["WebDistributionId"], web_url)
PY
read -r bucket distribution web_url <"$tmp/target"
echo "config.json:" >&2
cat "$site/config.json" >&2

# The copy's files are all newer than the bucket's objects, so sync uploads
# every one (no change is skipped for having the same size) and --delete
# removes what web/static no longer has.
"$AWS_CLI" s3 sync "$site/" "s3://$bucket/" --delete --cache-control no-cache --no-progress
"$AWS_CLI" cloudfront create-invalidation --distribution-id "$distribution" --paths '/*' \
	--query 'Invalidation.[Id,Status]' --output text

echo "page: $web_url/" >&2
