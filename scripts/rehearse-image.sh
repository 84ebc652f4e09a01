#!/usr/bin/env bash
# Runs what the container image runs, as near as a machine without Docker can:
# the runtime stage's files (package.json, package-lock.json, dist/) in a fresh
# folder, `npm ci --omit=dev`, then the Dockerfile's CMD as an unprivileged
# user against a real PostgreSQL and S3, probed with its own HEALTHCHECK.
#   scripts/rehearse-image.sh DATABASE_URL    (S3: TEST_S3_* from scripts/rgw.sh)
# Expects `node` to be the image's Node version and `npm run build` to be done.
set -euo pipefail
cd "$(dirname "$0")/.."
database_url=${1:?usage: scripts/rehearse-image.sh DATABASE_URL}
: "${TEST_S3_ENDPOINT:?TEST_S3_ENDPOINT is not set (eval \"\$(scripts/rgw.sh start)\")}"

# The Dockerfile's exec-form CMD and HEALTHCHECK, as JSON arrays.
dockerfile_array() {
  node -e '
    const text = require("fs").readFileSync("Dockerfile", "utf8").replace(/\\\n/g, " ")
    const line = text.split("\n").filter((l) => l.startsWith(process.argv[1] + " ")).at(-1)
    const args = JSON.parse(line.slice(line.indexOf("[")))
    process.stdout.write(args.join("\u0000"))
  ' "$1"
}
mapfile -d '' start < <(dockerfile_array CMD)
mapfile -d '' healthcheck < <(dockerfile_array HEALTHCHECK)
echo "image command: ${start[*]}"

stage=$(mktemp -d /tmp/replay-gate-image.XXXXXX)
service_pid=
cleanup() {
  [[ -n $service_pid ]] && kill "$service_pid" 2>/dev/null || true
  rm -rf "$stage"
}
trap cleanup EXIT
cp package.json package-lock.json "$stage/"
cp -r dist "$stage/dist"
(cd "$stage" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error)
chmod -R a+rX "$stage"
# setpriv and env exec: the service's own pid is the one signalled, as in a container.
as_nobody=(setpriv --reuid=nobody --regid=nogroup --clear-groups -- env -C "$stage")

# The SDK's credential chain, as in a container.
export AWS_ACCESS_KEY_ID=$TEST_S3_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY=$TEST_S3_SECRET_ACCESS_KEY
port=$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close() })')
settings=(NODE_ENV=production HOST=127.0.0.1 PORT="$port" DATABASE_URL="$database_url" S3_BUCKET=replay-gate-image
  S3_ENDPOINT="$TEST_S3_ENDPOINT" S3_REGION="${TEST_S3_REGION:-us-east-1}" LOG_LEVEL=warn)

"${as_nobody[@]}" "${settings[@]}" node dist/cli/db-migrate.js
# The bucket, as an operator makes it before the first start (a missing bucket is an unready instance).
(export "${settings[@]}"; node dist/cli/bucket-setup.js >/dev/null)
"${as_nobody[@]}" "${settings[@]}" "${start[@]}" &
service_pid=$!
healthy=
for _ in $(seq 1 60); do
  if "${as_nobody[@]}" PORT="$port" "${healthcheck[@]}"; then healthy=yes; break; fi
  sleep 0.5
done
[[ -n $healthy ]] || { echo "the HEALTHCHECK never passed" >&2; exit 1; }
echo "HEALTHCHECK passes; the service runs as $(ps -o user= -p "$service_pid"), on $(node --version)"
ready=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")
[[ $ready == 200 ]] || { echo "/readyz answered $ready" >&2; exit 1; }
echo "/readyz: 200 (PostgreSQL and S3 serve this instance)"
kill -TERM "$service_pid"
wait "$service_pid" && code=0 || code=$?
service_pid=
[[ $code == 0 ]] || { echo "SIGTERM: exit code $code" >&2; exit 1; }
echo "SIGTERM: exit code 0"
