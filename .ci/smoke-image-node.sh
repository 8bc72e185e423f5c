#!/usr/bin/env bash
# The image without Docker: on the Node version of the Dockerfile's base image (the npm
# registry ships Node binaries as the `node` package), copy dist/ alone into a clean
# folder as the runtime stage does (no node_modules there or above it), start the bundled
# server from there against the local stack (DynamoDB Local, the S3 emulator, Redis on
# 127.0.0.1:6379) and require /readyz 200. Run from the repository root after `npm ci`.
set -euo pipefail

node_major=$(sed -n 's/^ARG NODE_IMAGE=node:\([0-9][0-9]*\).*/\1/p' Dockerfile)
[ -n "$node_major" ] || { echo "no node:<major> base image in the Dockerfile" >&2; exit 1; }
# The binary itself, not npx around it: signals must reach the server.
image_node=$(npx --yes -p "node@$node_major" -c 'command -v node')
echo "image Node: $("$image_node" --version)"

work=$(mktemp -d)
stack_pid='' server_pid=''
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  [ -n "$stack_pid" ] && kill -INT "$stack_pid" 2>/dev/null && timeout 20 tail --pid="$stack_pid" -f /dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

npm run build >/dev/null
mkdir -p "$work/app" "$work/data"
# dist/ alone, as the image's runtime stage holds it: the bundled server and page, no node_modules.
cp -r dist "$work/app/"

# Without AWS settings the built server refuses to start and says why (the local stack is not in it).
if (cd "$work/app" && env -i PATH="$PATH" HOME="$HOME" PORT=18405 "$image_node" dist/server.js) >"$work/no-settings.log" 2>&1; then
  echo "dist/server.js started without AWS settings" >&2; exit 1
fi
grep -q 'npm start' "$work/no-settings.log" || { cat "$work/no-settings.log"; echo "no explanation when the AWS settings are missing" >&2; exit 1; }

# The emulators are development dependencies: the stack runs from the checkout.
LOCAL_DATA_DIR="$work/data" LOCAL_DYNAMODB_PORT=18400 LOCAL_S3_PORT=18401 LOCAL_IDP_PORT=18402 \
  ./node_modules/.bin/tsx scripts/local-stack.ts >"$work/stack.log" 2>&1 &
stack_pid=$!
for _ in $(seq 1 120); do [ -f "$work/data/stack.json" ] && break; sleep 0.5; done
[ -f "$work/data/stack.json" ] || { cat "$work/stack.log"; echo "the local stack did not start" >&2; exit 1; }
address() { node -e "process.stdout.write(require(process.argv[1])[process.argv[2]])" "$work/data/stack.json" "$1"; }

# AWS mode, so that nothing of the local stack is imported, with its endpoints overriding AWS's.
(cd "$work/app" && exec env -i PATH="$PATH" HOME="$HOME" NODE_ENV=production MALLOC_ARENA_MAX=2 \
  PORT=18403 HOST=127.0.0.1 PUBLIC_URL=http://127.0.0.1:18403 LOG_LEVEL=warn \
  AWS_REGION=us-east-1 COGNITO_USER_POOL_ID=us-east-1_Smoke0000 COGNITO_DOMAIN="$(address issuer)" \
  COGNITO_CLIENT_ID="$(address clientId)" SESSION_SECRET="$(head -c 48 /dev/urandom | base64 | tr -d '\n=/+')" \
  DYNAMODB_ENDPOINT="$(address dynamodbEndpoint)" S3_ENDPOINT="$(address s3Endpoint)" \
  REDIS_URL=redis://127.0.0.1:6379 REDIS_KEY_PREFIX="smoke-$$:" METRICS_PORT=18404 \
  "$image_node" dist/server.js) >"$work/server.log" 2>&1 &
server_pid=$!

status=''
for _ in $(seq 1 60); do
  status=$(node -e "fetch('http://127.0.0.1:18403/readyz').then((r) => r.text().then((b) => console.log(r.status, b)), () => console.log('no answer'))")
  case "$status" in 200*) break ;; esac
  sleep 1
done
echo "/readyz: $status"
case "$status" in
  200*) ;;
  *) cat "$work/server.log"; exit 1 ;;
esac
page=$(node -e "fetch('http://127.0.0.1:18403/').then((r) => console.log(r.status), () => console.log('no answer'))")
echo "/: $page"
[ "$page" = 200 ] || { echo "the bundled page is not served" >&2; exit 1; }
metrics=$(node -e "fetch('http://127.0.0.1:18404/metrics').then((r) => r.text()).then((t) => console.log(t.includes('huddle_open_sockets') ? 'ok' : 'missing'), () => console.log('no answer'))")
echo "/metrics: $metrics"
[ "$metrics" = ok ]
kill -TERM "$server_pid"
timeout 60 tail --pid="$server_pid" -f /dev/null
wait "$server_pid" && server_pid='' || { cat "$work/server.log"; echo "the server did not exit 0 on SIGTERM" >&2; exit 1; }
echo "smoke on Node $node_major: ok"
