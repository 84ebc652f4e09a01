#!/usr/bin/env bash
# Runs what the container image runs, as near as a machine without Docker can:
# the runtime stage's files (package.json, package-lock.json, dist/, the CORS
# rules) in a fresh folder, `npm ci --omit=dev`, the refusals of local mode,
# the image's migrate and bucket commands, then the Dockerfile's CMD as an
# unprivileged user against a real PostgreSQL and S3, probed with its own
# HEALTHCHECK.
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
mkdir "$stage/localstack" && cp localstack/bucket-cors.json "$stage/localstack/"
# Also the sources and the build script, which the image leaves out: a production install of a
# built checkout (`npm ci --omit=dev`, whose prepare script finds no TypeScript) must work too.
mkdir "$stage/scripts" && cp scripts/build.mjs "$stage/scripts/" && cp -r src tsconfig.json tsconfig.build.json "$stage/"
(cd "$stage" && npm ci --omit=dev --no-audit --no-fund --loglevel=error)
chmod -R a+rX "$stage"
# …and must never run a build older than its sources: without TypeScript to rebuild, it stops.
echo "// changed" >>"$stage/src/server.ts"
if (cd "$stage" && node scripts/build.mjs --if-stale 2>"$stage/build.err"); then
  echo "a stale dist/ was accepted" >&2; exit 1
fi
grep -q 'TypeScript is not installed' "$stage/build.err" || { cat "$stage/build.err" >&2; exit 1; }
echo "stale dist/ without TypeScript: refused ($(cat "$stage/build.err"))"
rm -r "$stage/src" "$stage/scripts" "$stage/build.err"
for dev_only in @electric-sql/pglite @20minutes/s3rver typescript; do
  [[ ! -e $stage/node_modules/$dev_only ]] || { echo "$dev_only is in the production install" >&2; exit 1; }
done
echo "production install: $(du -sh "$stage/node_modules" | cut -f1) of node_modules, without the embedded database, the S3 emulator or TypeScript"
# setpriv and env exec: the service's own pid is the one signalled, as in a container.
as_nobody=(setpriv --reuid=nobody --regid=nogroup --clear-groups -- env -C "$stage")

# The SDK's credential chain, as in a container.
export AWS_ACCESS_KEY_ID=$TEST_S3_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY=$TEST_S3_SECRET_ACCESS_KEY
port=$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close() })')
settings=(NODE_ENV=production HOST=127.0.0.1 PORT="$port" DATABASE_URL="$database_url" S3_BUCKET=replay-gate-image
  S3_ENDPOINT="$TEST_S3_ENDPOINT" S3_REGION="${TEST_S3_REGION:-us-east-1}" LOG_LEVEL=warn)

# Without settings, the image refuses local mode (NODE_ENV=production); a production
# install without NODE_ENV says that local mode is not installed.
expect_refusal() {
  local expected=$1; shift
  local output
  if output=$("${as_nobody[@]}" "$@" PORT="$port" node dist/server.js 2>&1); then
    echo "the service started in local mode ($*)" >&2; exit 1
  fi
  grep -q "$expected" <<<"$output" || { echo "no '$expected' in: $output" >&2; exit 1; }
  echo "without DATABASE_URL and S3_BUCKET ($*): refused, '$expected'"
}
expect_refusal 'NODE_ENV is production' NODE_ENV=production
expect_refusal 'leaves out' NODE_ENV=

# The image's two setup commands, as the unprivileged user: migrations, then the bucket
# and its CORS rules (a missing bucket is an unready instance).
"${as_nobody[@]}" "${settings[@]}" node dist/cli/db-migrate.js
"${as_nobody[@]}" AWS_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY" "${settings[@]}" node dist/cli/bucket-setup.js
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
