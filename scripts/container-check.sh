#!/usr/bin/env bash
# Builds the image of ./Dockerfile and runs it, as CI does (.ci/run). No container registry is needed: the base is
# made here with debootstrap (Debian bookworm minbase + this machine's Node.js, npm and Node headers) and passed as
# NODE_IMAGE. The image is then checked: it runs as a non-root user with HOST=0.0.0.0, its HEALTHCHECK turns healthy,
# a user registers, logs in and chats over the WebSocket (directly and through deploy/nginx.conf), and SIGTERM stops
# it promptly with exit code 0. With TEST_DATABASE_URL and TEST_REDIS_URL (set by .ci/run), two instances of the image
# then serve behind deploy/nginx.conf on PostgreSQL and Redis, as in compose.yaml.
#
# Where containers cannot run (no podman, not root, no namespaces), it says exactly which steps it could not run and
# why, and runs the same steps against a plain directory instead: the Dockerfile's build steps into a temporary
# folder, production dependencies only, then `node dist/main.js` as a non-root user with HOST=0.0.0.0.
# compose.yaml and deploy/nginx.conf are checked in both cases (compose itself needs images from Docker Hub).
#
# Settings (environment):
#   CONTAINER_CHECK_MODE      auto (default), podman (fail when containers cannot run) or directory (the fallback)
#   CONTAINER_CHECK_TIMEOUT   seconds for the whole check (default 720); past it the check fails and says where
#   DEBIAN_MIRROR             for debootstrap (default http://deb.debian.org/debian)
# The base image (localhost/agentgate-check-base:<node version>) and podman's layer cache are kept between runs to
# save minutes; `podman rmi localhost/agentgate-check-base:<version>` makes the next run build the base again.
# Every container, process and temporary folder it starts is removed on exit. It talks to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

MODE=${CONTAINER_CHECK_MODE:-auto}
BUDGET=${CONTAINER_CHECK_TIMEOUT:-720}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
IMAGE=localhost/agentgate:check
START=$SECONDS
TMP=$(mktemp -d /tmp/agentgate-container-check.XXXXXX)
chmod 755 "$TMP"
NOT_RUN=()
BUILT=""
DROP_DB=""
NGINX_PID=""
CONTAINERS=()
PIDS=()

say() { echo "== container-check [$((SECONDS - START))s]: $*"; }
not_run() {
  NOT_RUN+=("$1")
  say "NOT RUN: $1"
}
fail() {
  local late=""
  [ $((SECONDS - START)) -lt "$BUDGET" ] || late=" (out of time: CONTAINER_CHECK_TIMEOUT=${BUDGET}s)"
  say "FAILED: $*$late"
  exit 1
}
left() {
  local n=$((BUDGET - (SECONDS - START)))
  # A step started past the budget gets one second, times out and fails with its own message.
  echo $((n > 0 ? n : 1))
}

cleanup() {
  local code=$?
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for name in "${CONTAINERS[@]}"; do "${PODMAN[@]}" rm -f -t 0 "$name" >/dev/null 2>&1 || true; done
  # The image goes; its layers stay in podman's cache, so the next build only redoes what changed.
  [ -z "$BUILT" ] || "${PODMAN[@]}" rmi "$IMAGE" >/dev/null 2>&1 || true
  if [ -n "$DROP_DB" ]; then
    psql -q "$TEST_DATABASE_URL" -c "DROP DATABASE IF EXISTS $DROP_DB" >/dev/null 2>&1 || true
    redis-cli -u "$TEST_REDIS_URL" --scan --pattern "agentgate-check-$$:*" 2>/dev/null |
      xargs -r redis-cli -u "$TEST_REDIS_URL" del >/dev/null 2>&1 || true
  fi
  rm -rf "$TMP"
  if [ "${#NOT_RUN[@]}" -gt 0 ]; then
    echo "== container-check: steps NOT run on this machine:"
    printf '   - %s\n' "${NOT_RUN[@]}"
  fi
  if [ "$code" = 0 ]; then say "passed (${RESULT:-})"; else say "failed (exit $code)"; fi
  exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

# ---- the client: register, log in, get a ticket, chat over the WebSocket (ws resolves from ./node_modules) -----
CLIENT_JS=$(
  cat <<'EOF'
import WebSocket from 'ws';
import { randomBytes } from 'node:crypto';
const base = process.env.BASE_URL;
const requestId = process.env.REQUEST_ID;
const json = async (path, body, token) => {
  const headers = { 'content-type': 'application/json', 'x-request-id': requestId, 'x-forwarded-for': '203.0.113.9' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(base + path, { method: 'POST', headers, body: JSON.stringify(body ?? {}) });
  const text = await res.text();
  if (!res.ok) throw new Error(`POST ${path}: ${res.status} ${text}`);
  return JSON.parse(text);
};
const email = `check-${randomBytes(6).toString('hex')}@example.com`;
const password = randomBytes(18).toString('base64');
await json('/auth/register', { email, password });
const { accessToken } = await json('/auth/login', { email, password });
const { ticket } = await json('/ws/ticket', {}, accessToken);
const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/ws?ticket=${encodeURIComponent(ticket)}`);
const answer = await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error('no agent_completed within 20 s')), 20_000);
  ws.on('open', () => ws.send(JSON.stringify({ type: 'user_message', id: 'm1', text: 'calculate 12*7' })));
  ws.on('message', (data) => {
    const msg = JSON.parse(data.toString());
    if (msg.type === 'agent_completed') (clearTimeout(timer), resolve(msg.text));
    if (msg.type === 'agent_error' || msg.type === 'error') (clearTimeout(timer), reject(new Error(data.toString())));
  });
  ws.on('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
  ws.on('error', reject);
});
ws.close();
if (!String(answer).includes('84')) throw new Error(`unexpected answer: ${answer}`);
console.log(`registered ${email}, logged in, chatted over the WebSocket: "${answer}"`);
EOF
)
chat() { # chat <base url> <request id>
  (cd "$ROOT" && BASE_URL=$1 REQUEST_ID=$2 timeout 60 node --input-type=module -e "$CLIENT_JS")
}

# The HEALTHCHECK command of the Dockerfile, as an argv array (one per line), run as is by the directory fallback.
healthcheck_argv() {
  node -e '
    const text = require("fs").readFileSync("Dockerfile", "utf8").replace(/\\\n\s*/g, " ");
    const line = text.split("\n").find((l) => l.startsWith("HEALTHCHECK"));
    for (const arg of JSON.parse(line.slice(line.indexOf("CMD") + 3))) console.log(arg);'
}

# ---- deploy/nginx.conf, with the compose host names swapped for local ports, in front of 127.0.0.1:<port> -------
NGINX_PORT=""
start_proxy() { # start_proxy <port of agentgate-1> [<port of agentgate-2>, default the same]
  if ! command -v nginx >/dev/null 2>&1; then
    not_run "proxy: deploy/nginx.conf in front of the server (nginx is not installed: apt-get install nginx-light)"
    return 1
  fi
  NGINX_PORT=$(free_port)
  mkdir -p "$TMP/nginx/logs"
  sed -e "s/agentgate-1:8080/127.0.0.1:$1/" -e "s/agentgate-2:8080/127.0.0.1:${2:-$1}/" \
    -e "s/listen 80;/listen 127.0.0.1:$NGINX_PORT;/" \
    deploy/nginx.conf >"$TMP/nginx/agentgate.conf"
  cat >"$TMP/nginx/nginx.conf" <<EOF
worker_processes 1;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/logs/error.log;
events { worker_connections 64; }
http {
  # Which instance answered each request, and how: the two-instance check reads it.
  log_format upstreams '\$http_x_request_id \$status [\$upstream_addr] [\$upstream_status]';
  access_log $TMP/nginx/logs/access.log upstreams;
  client_body_temp_path $TMP/nginx/body;
  proxy_temp_path $TMP/nginx/proxy;
  fastcgi_temp_path $TMP/nginx/fastcgi;
  uwsgi_temp_path $TMP/nginx/uwsgi;
  scgi_temp_path $TMP/nginx/scgi;
  include $TMP/nginx/agentgate.conf;
}
EOF
  nginx -t -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" 2>&1 | sed 's/^/   /' || fail "nginx -t refused deploy/nginx.conf"
  nginx -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -g 'daemon off;' &
  NGINX_PID=$!
  PIDS+=("$NGINX_PID")
  for _ in $(seq 50); do curl -fsS -o /dev/null "http://127.0.0.1:$NGINX_PORT/health/live" 2>/dev/null && return 0; sleep 0.2; done
  fail "nginx did not answer on 127.0.0.1:$NGINX_PORT: $(tail -n 5 "$TMP/nginx/logs/error.log")"
}

# ---- compose.yaml: syntax and the settings it must fill in ----------------------------------------------------
check_compose() {
  local out
  if docker compose version >/dev/null 2>&1; then
    out=$(POSTGRES_PASSWORD=x JWT_SECRET_KEY=x docker compose -f compose.yaml config -q 2>&1) ||
      fail "docker compose config: $out"
    say "compose.yaml: docker compose config accepts it"
  else
    not_run "compose: 'docker compose config' (no compose plugin for the docker CLI here)"
  fi
  out=$(
    cd "$ROOT" && node --input-type=module -e '
    import { readFileSync } from "node:fs";
    let doc;
    try {
      const { parse } = await import("yaml");
      doc = parse(readFileSync("compose.yaml", "utf8"), { merge: true });
    } catch (err) {
      if (err?.code !== "ERR_MODULE_NOT_FOUND") throw err;
      console.log("SKIP the yaml package is not installed");
      process.exit(0);
    }
    const s = doc.services ?? {};
    const problems = [];
    for (const name of ["postgres", "redis", "agentgate-1", "agentgate-2", "proxy"]) if (!s[name]) problems.push(`no service ${name}`);
    for (const name of ["agentgate-1", "agentgate-2"]) {
      const env = s[name]?.environment ?? {};
      for (const key of ["TRUST_PROXY", "ALLOWED_ORIGINS", "PUBLIC_URL", "DATABASE_URL", "REDIS_URL", "JWT_SECRET_KEY"])
        if (!env[key]) problems.push(`${name}: ${key} is not set`);
    }
    if (!JSON.stringify(s.proxy?.volumes ?? []).includes("deploy/nginx.conf")) problems.push("proxy does not mount deploy/nginx.conf");
    if (problems.length) (console.log(problems.join("; ")), process.exit(1));
    console.log("OK");'
  ) || fail "compose.yaml: $out"
  case $out in
  SKIP*) not_run "compose: structure check (${out#SKIP })" ;;
  *) say "compose.yaml: parses, has postgres, redis, two agentgate instances and the proxy, with TRUST_PROXY, ALLOWED_ORIGINS and PUBLIC_URL set" ;;
  esac
  not_run "compose: 'up' (its images postgres, redis and nginx come from Docker Hub, which is not reachable here)"
}

# ---- the base image: Debian bookworm minbase + this machine's Node.js ----------------------------------------
node_ok() { node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)'; }
make_base() { # make_base <tag>
  local rootfs=$TMP/rootfs node_bin headers npm_dir
  node_bin=$(readlink -f "$(command -v node)")
  headers=$(dirname "$(dirname "$node_bin")")/include/node
  npm_dir=$(npm root -g)/npm
  [ -f "$headers/common.gypi" ] || { not_run "base image: no Node headers at $headers (needed to compile better-sqlite3)" && return 1; }
  [ -f "$npm_dir/bin/npm-cli.js" ] || { not_run "base image: npm not found at $npm_dir" && return 1; }
  say "making the base image $1: debootstrap --variant=minbase bookworm ($MIRROR), then Node $(node --version) from $node_bin"
  if ! timeout "$(left)" debootstrap --variant=minbase --include=ca-certificates bookworm "$rootfs" "$MIRROR" \
    >"$TMP/debootstrap.log" 2>&1; then
    tail -n 5 "$TMP/debootstrap.log"
    not_run "base image: debootstrap failed (above)"
    return 1
  fi
  install -D -m 0755 "$node_bin" "$rootfs/usr/local/bin/node"
  mkdir -p "$rootfs/usr/local/lib/node_modules" "$rootfs/usr/local/include"
  cp -a "$npm_dir" "$rootfs/usr/local/lib/node_modules/npm"
  cp -a "$headers" "$rootfs/usr/local/include/node"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
  # This machine's own certificate authorities (an egress proxy's, say), so npm and apt inside reach the registries.
  if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
    chroot "$rootfs" update-ca-certificates >/dev/null 2>&1 || true
  fi
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin
  tar -C "$rootfs" -c . | "${PODMAN[@]}" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
    --change 'CMD ["node"]' --quiet - "$1" >/dev/null
  rm -rf "$rootfs"
}

# ---- podman: build the image and run it -----------------------------------------------------------------------
PODMAN=(podman)
RUN_FLAGS=()
podman_path() {
  if ! command -v podman >/dev/null 2>&1; then
    not_run "image: build and run with podman (podman is not installed: apt-get install podman runc)"
    return 1
  fi
  if [ "$(id -u)" != 0 ]; then
    not_run "image: build and run with podman (this check runs podman as root; it runs as uid $(id -u))"
    return 1
  fi
  node_ok || { not_run "base image: this machine's Node $(node --version) is older than 20.19" && return 1; }
  local base
  base=localhost/agentgate-check-base:$(node --version)-bookworm
  if "${PODMAN[@]}" image exists "$base"; then
    say "base image $base: kept from an earlier run"
  else
    command -v debootstrap >/dev/null 2>&1 || { not_run "base image: debootstrap is not installed" && return 1; }
    make_base "$base" || return 1
  fi

  # Find a runtime and rlimits this machine accepts. Some sandboxes refuse crun on hybrid cgroups, or refuse to raise
  # an rlimit (podman's default nofile is 1048576): then runc, within this machine's hard limits.
  local rt flags probe="" ok=""
  for rt in crun runc; do
    command -v "$rt" >/dev/null 2>&1 || continue
    for flags in "" "--ulimit nofile=$(ulimit -Hn):$(ulimit -Hn) --ulimit nproc=4096:4096"; do
      # shellcheck disable=SC2086
      if out=$(timeout 60 podman --runtime "$rt" run --rm --network none $flags "$base" true 2>&1); then
        ok=1
        break 2
      fi
      probe+="${probe:+; }$rt${flags:+ with $flags}: $(printf '%s' "$out" | tail -n 1)"
    done
  done
  if [ -z "$ok" ]; then
    not_run "image: run a container (podman cannot start one here: $probe)"
    return 1
  fi
  PODMAN=(podman --runtime "$rt")
  # shellcheck disable=SC2206
  RUN_FLAGS=($flags)
  say "podman $(podman --version | awk '{print $3}') runs containers here with $rt${flags:+ and $flags}${probe:+ (refused: $probe)}"

  say "podman build (Dockerfile, NODE_IMAGE=$base): progress below, full log on failure"
  if ! timeout "$(left)" "${PODMAN[@]}" build --format docker --pull=never --network host --jobs 2 "${RUN_FLAGS[@]}" \
    --build-arg "NODE_IMAGE=$base" -t "$IMAGE" -f Dockerfile . 2>&1 |
    tee "$TMP/build.log" | grep --line-buffered -E '^\[[0-9]+/[0-9]+\] STEP [0-9/]+: (RUN|FROM)|^added [0-9]+ packages' |
    sed -u -e 's/^\(.\{0,150\}\).*/   \1/'; then
    :
  fi
  BUILT=1
  if ! "${PODMAN[@]}" image exists "$IMAGE" || ! grep -q "Successfully tagged $IMAGE" "$TMP/build.log"; then
    tail -n 40 "$TMP/build.log"
    fail "podman build"
  fi
  say "built $IMAGE ($("${PODMAN[@]}" image inspect "$IMAGE" --format '{{.Size}}' | awk '{printf "%.0f MB", $1/1e6}'))"

  local user env health
  user=$("${PODMAN[@]}" image inspect "$IMAGE" --format '{{.Config.User}}')
  env=$("${PODMAN[@]}" image inspect "$IMAGE" --format '{{range .Config.Env}}{{println .}}{{end}}')
  health=$("${PODMAN[@]}" image inspect "$IMAGE" --format '{{if .Config.Healthcheck}}{{json .Config.Healthcheck.Test}}{{end}}')
  case $user in "" | 0 | 0:* | root | root:*) fail "the image's USER is '${user:-unset}' (root)" ;; esac
  grep -qx 'HOST=0.0.0.0' <<<"$env" || fail "the image does not set HOST=0.0.0.0"
  case $health in *health/live*) ;; *) fail "the image has no HEALTHCHECK on /health/live (build with --format docker)" ;; esac
  say "image config: USER $user, HOST=0.0.0.0, HEALTHCHECK $health"

  # Production mode is on in the image: without a secret it must refuse to start, and say why.
  local out code=0
  out=$(timeout 60 "${PODMAN[@]}" run --rm "${RUN_FLAGS[@]}" --network none "$IMAGE" check-config 2>&1) || code=$?
  [ "$code" = 1 ] && grep -q JWT_SECRET_KEY <<<"$out" ||
    fail "check-config without JWT_SECRET_KEY should exit 1 naming it; got $code: $out"
  say "without JWT_SECRET_KEY the image refuses to start (check-config exit 1, NODE_ENV=production)"

  local name=agentgate-check-$$ port
  CONTAINERS+=("$name")
  "${PODMAN[@]}" run -d --name "$name" "${RUN_FLAGS[@]}" -p 127.0.0.1::8080 \
    -e JWT_SECRET_KEY="$(head -c 48 /dev/urandom | base64)" -e TRUST_PROXY=1 \
    -e ALLOWED_ORIGINS=http://127.0.0.1:8080 -e PUBLIC_URL=http://127.0.0.1:8080 \
    "$IMAGE" >/dev/null 2>"$TMP/run.err" || fail "podman run: $(cat "$TMP/run.err")"
  # Without systemd podman cannot schedule the periodic health checks; `podman healthcheck run` runs the same one.
  grep -q 'systemd' "$TMP/run.err" && say "(podman cannot schedule periodic health checks without systemd: running the HEALTHCHECK by hand)"
  port=$("${PODMAN[@]}" port "$name" 8080/tcp | head -n 1 | sed 's/.*://')
  say "container $name started, port 8080 published on 127.0.0.1:$port"

  local status=""
  for _ in $(seq 60); do
    if "${PODMAN[@]}" healthcheck run "$name" >/dev/null 2>&1; then status=healthy && break; fi
    [ "$("${PODMAN[@]}" inspect "$name" --format '{{.State.Status}}')" = running ] || break
    sleep 1
  done
  [ "$status" = healthy ] || fail "not healthy within 60 s: $("${PODMAN[@]}" logs "$name" 2>&1 | tail -n 5)"
  say "HEALTHCHECK: $("${PODMAN[@]}" inspect "$name" --format '{{.State.Health.Status}}') (GET /health/live from inside)"

  local uids
  uids=$("${PODMAN[@]}" top "$name" user pid args | tail -n +2)
  printf '%s\n' "$uids" | sed 's/^/   /'
  ! awk '{print $1}' <<<"$uids" | grep -qx root || fail "a process in the container runs as root"
  [ "$("${PODMAN[@]}" exec "$name" id -u)" != 0 ] || fail "podman exec runs as root"
  say "non-root: every process runs as $("${PODMAN[@]}" exec "$name" id -un) (uid $("${PODMAN[@]}" exec "$name" id -u)), tini is PID 1"

  out=$(chat "http://127.0.0.1:$port" "check-direct-$$") || fail "chat with the container: $out"
  say "direct: $out"
  if start_proxy "$port"; then
    out=$(chat "http://127.0.0.1:$NGINX_PORT" "check-proxy-$$") || fail "chat through nginx: $out"
    say "through deploy/nginx.conf (127.0.0.1:$NGINX_PORT): $out"
    check_forwarded "$("${PODMAN[@]}" logs "$name" 2>&1)"
  fi

  local t0=$SECONDS state
  "${PODMAN[@]}" stop -t 30 "$name" >/dev/null 2>&1
  state=$("${PODMAN[@]}" inspect "$name" --format '{{.State.ExitCode}}')
  [ "$state" = 0 ] || fail "after SIGTERM the container exited $state"
  await_log "$name" '"signal":"SIGTERM"' "node did not log the SIGTERM"
  [ $((SECONDS - t0)) -lt 15 ] || fail "SIGTERM took $((SECONDS - t0)) s to stop the container"
  say "SIGTERM (podman stop): node logged it, stopped in $((SECONDS - t0)) s, exit code 0"
  "${PODMAN[@]}" rm -f "$name" >/dev/null 2>&1 || true
  two_instances
  RESULT="the image was built with podman and run"
}

# await_log <container> <grep pattern> <failure>: conmon may still be writing a container's last lines to its log when
# podman returns, so look again for two seconds before failing.
await_log() {
  local tries=0
  until "${PODMAN[@]}" logs "$1" 2>&1 | grep -q "$2"; do
    tries=$((tries + 1))
    [ "$tries" -lt 10 ] || fail "$3"
    sleep 0.2
  done
}

# ---- two instances on PostgreSQL and Redis behind deploy/nginx.conf, as compose.yaml runs them --------------------
# compose pulls postgres and redis from Docker Hub; here they are the ones CI already runs (TEST_DATABASE_URL,
# TEST_REDIS_URL), with a database and a Redis key prefix of this check's own, dropped at the end.
two_instances() {
  if [ -z "${TEST_DATABASE_URL:-}" ] || [ -z "${TEST_REDIS_URL:-}" ] || ! command -v psql >/dev/null 2>&1; then
    not_run "two instances behind the proxy (needs TEST_DATABASE_URL, TEST_REDIS_URL and psql, as .ci/run sets them)"
    return 0
  fi
  command -v nginx >/dev/null 2>&1 || { not_run "two instances behind the proxy (nginx is not installed)" && return 0; }
  local db=agentgate_container_check_$$ secret p1 p2 i name out
  psql -q "$TEST_DATABASE_URL" -c "CREATE DATABASE $db" >/dev/null || fail "CREATE DATABASE $db"
  DROP_DB=$db
  secret=$(head -c 48 /dev/urandom | base64)
  p1=$(free_port)
  p2=$(free_port)
  # Host network, to reach PostgreSQL and Redis on 127.0.0.1: so HOST=127.0.0.1 here instead of the image's 0.0.0.0.
  for i in 1 2; do
    name=agentgate-check-$$-$i
    CONTAINERS+=("$name")
    "${PODMAN[@]}" run -d --name "$name" "${RUN_FLAGS[@]}" --network host -e HOST=127.0.0.1 \
      -e PORT="$([ "$i" = 1 ] && echo "$p1" || echo "$p2")" -e DATABASE_URL="${TEST_DATABASE_URL%/*}/$db" \
      -e REDIS_URL="$TEST_REDIS_URL" -e REDIS_KEY_PREFIX="agentgate-check-$$:" -e JWT_SECRET_KEY="$secret" \
      -e TRUST_PROXY=1 -e ALLOWED_ORIGINS=http://127.0.0.1:8080 -e PUBLIC_URL=http://127.0.0.1:8080 \
      "$IMAGE" >/dev/null 2>"$TMP/run-$i.err" || fail "podman run instance $i: $(cat "$TMP/run-$i.err")"
  done
  for i in 1 2; do
    name=agentgate-check-$$-$i
    for _ in $(seq 60); do
      "${PODMAN[@]}" healthcheck run "$name" >/dev/null 2>&1 && continue 2
      [ "$("${PODMAN[@]}" inspect "$name" --format '{{.State.Status}}')" = running ] || break
      sleep 1
    done
    fail "instance $i is not healthy: $("${PODMAN[@]}" logs "$name" 2>&1 | tail -n 5)"
  done
  say "two instances healthy on PostgreSQL ($db) and Redis (prefix agentgate-check-$$:), 127.0.0.1:$p1 and :$p2"
  { kill "$NGINX_PID" && wait "$NGINX_PID"; } 2>/dev/null || true
  start_proxy "$p1" "$p2" || return 0
  # Round robin alternates requests between the instances, but an instance nginx could not reach is left out for
  # fail_timeout (5 s): so chat until both have answered one, for at most 8 chats, and show nginx's view if not.
  local chats=0 served port
  while :; do
    chats=$((chats + 1))
    out=$(chat "http://127.0.0.1:$NGINX_PORT" "check-two-$$-$chats") || fail "chat through nginx with two instances: $out"
    served=0
    for port in "$p1" "$p2"; do
      grep "^check-two-$$-" "$TMP/nginx/logs/access.log" | grep -Eq "127\.0\.0\.1:$port\] \[([^]]*, )?(101|2[0-9]{2})\]$" &&
        served=$((served + 1))
    done
    [ "$served" = 2 ] && [ "$chats" -ge 3 ] && break
    [ "$chats" -lt 8 ] || {
      sed 's/^/   access: /' "$TMP/nginx/logs/access.log"
      sed 's/^/   error: /' "$TMP/nginx/logs/error.log"
      fail "after $chats chats one instance had answered none of them: the proxy did not spread them"
    }
    [ "$served" = 2 ] || sleep 1
  done
  say "through deploy/nginx.conf, $chats users: $out"
  if grep -q 'upstream' "$TMP/nginx/logs/error.log"; then
    say "nginx could not reach an instance at least once (retried on the other, the chats did not notice):"
    grep 'upstream' "$TMP/nginx/logs/error.log" | sed 's/^/   /'
  fi
  # The instances' own logs agree.
  for i in 1 2; do
    await_log "agentgate-check-$$-$i" "\"requestId\":\"check-two-$$-" "instance $i logged none of the requests nginx says it answered"
  done
  say "both instances served some of the requests (round robin, no sticky sessions), and every chat completed"
  for i in 1 2; do
    "${PODMAN[@]}" stop -t 30 "agentgate-check-$$-$i" >/dev/null 2>&1
    [ "$("${PODMAN[@]}" inspect "agentgate-check-$$-$i" --format '{{.State.ExitCode}}')" = 0 ] ||
      fail "instance $i exited $("${PODMAN[@]}" inspect "agentgate-check-$$-$i" --format '{{.State.ExitCode}}') after SIGTERM"
  done
  say "SIGTERM: both instances exited 0"
  "${PODMAN[@]}" rm -f "agentgate-check-$$-1" "agentgate-check-$$-2" >/dev/null 2>&1 || true
}

# The request that came through nginx (X-Forwarded-For: 203.0.113.9 from the client, 127.0.0.1 appended by nginx)
# must be logged with the client nginx saw: TRUST_PROXY=1 trusts one hop, so the spoofed entry is ignored.
check_forwarded() {
  local line
  line=$(grep "\"requestId\":\"check-proxy-$$\"" <<<"$1" | grep -m1 remoteAddress || true)
  [ -n "$line" ] || fail "no log line of the proxied request check-proxy-$$"
  grep -q '"remoteAddress":"127.0.0.1"' <<<"$line" ||
    fail "through the proxy, remoteAddress should be 127.0.0.1 (TRUST_PROXY=1): $line"
  say "TRUST_PROXY=1: the proxied request is logged from 127.0.0.1 (nginx's view), not the client's spoofed X-Forwarded-For"
}

# ---- the fallback: the Dockerfile's steps against a plain directory --------------------------------------------
directory_path() {
  node_ok || fail "Node $(node --version) is older than 20.19"
  local build=$TMP/build app=$TMP/app data=$TMP/var as_user=()
  say "directory fallback: the Dockerfile's steps in $TMP"
  mkdir -p "$build/scripts" "$app/scripts" "$data"
  cp package.json package-lock.json tsconfig.json tsconfig.build.json "$build/"
  cp -R src web "$build/"
  say "build stage: npm ci --ignore-scripts && npm run build"
  (cd "$build" && timeout "$(left)" npm ci --ignore-scripts --no-audit --no-fund >"$TMP/ci-build.log" 2>&1 &&
    timeout "$(left)" npm run build >"$TMP/build.log" 2>&1) ||
    { tail -n 30 "$TMP/ci-build.log" "$TMP/build.log" 2>/dev/null; fail "build stage"; }
  say "production dependencies: npm ci --omit=dev (native modules compiled here)"
  cp package.json package-lock.json "$app/"
  cp scripts/prepare.mjs "$app/scripts/"
  (cd "$app" && timeout "$(left)" npm ci --omit=dev --no-audit --no-fund >"$TMP/ci-prod.log" 2>&1) ||
    { tail -n 30 "$TMP/ci-prod.log"; fail "npm ci --omit=dev"; }
  [ ! -e "$app/node_modules/typescript" ] && [ ! -e "$app/node_modules/vite" ] ||
    fail "npm ci --omit=dev installed dev dependencies"
  cp -R "$build/dist" docs README.md LICENSE "$app/"
  if [ "$(id -u)" = 0 ]; then
    as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups)
    chown -R 65534:65534 "$data"
  fi
  local port pid code=0 t0 out
  port=$(free_port)
  # Binds every interface (HOST=0.0.0.0, as in the image) on a random port, for the seconds the check lasts.
  (cd "$app" && exec env -i PATH="$PATH" HOME="$data" NODE_ENV=production HOST=0.0.0.0 PORT="$port" \
    DATA_DIR="$data/data" JWT_SECRET_KEY="$(head -c 48 /dev/urandom | base64)" TRUST_PROXY=1 \
    ALLOWED_ORIGINS=http://127.0.0.1:8080 "${as_user[@]}" node dist/main.js serve >"$TMP/server.log" 2>&1) &
  pid=$!
  PIDS+=("$pid")
  local argv=()
  mapfile -t argv < <(healthcheck_argv)
  for _ in $(seq 60); do
    if (cd "$app" && PORT=$port "${argv[@]}") 2>/dev/null; then break; fi
    kill -0 "$pid" 2>/dev/null || fail "the server exited: $(tail -n 5 "$TMP/server.log")"
    sleep 1
  done
  (cd "$app" && PORT=$port "${argv[@]}") || fail "the Dockerfile's HEALTHCHECK command fails"
  say "HEALTHCHECK command of the Dockerfile: healthy (server on 0.0.0.0:$port, uid $(ps -o uid= -p "$(pgrep -P "$pid" node || echo "$pid")" | tr -d ' '))"
  [ "$(ps -o uid= -p "$(pgrep -P "$pid" node || echo "$pid")" | tr -d ' ')" != 0 ] || fail "the server runs as root"
  out=$(chat "http://127.0.0.1:$port" "check-direct-$$") || fail "chat: $out"
  say "direct: $out"
  if start_proxy "$port"; then
    out=$(chat "http://127.0.0.1:$NGINX_PORT" "check-proxy-$$") || fail "chat through nginx: $out"
    say "through deploy/nginx.conf (127.0.0.1:$NGINX_PORT): $out"
    check_forwarded "$(cat "$TMP/server.log")"
  fi
  t0=$SECONDS
  kill -TERM "$pid"
  wait "$pid" || code=$?
  [ "$code" = 0 ] || fail "after SIGTERM the server exited $code"
  grep -q '"signal":"SIGTERM"' "$TMP/server.log" || fail "node did not log the SIGTERM"
  say "SIGTERM: stopped in $((SECONDS - t0)) s, exit code 0"
  not_run "two instances behind the proxy (checked with containers only)"
  RESULT="the Dockerfile's steps were run against a plain directory, not in a container"
}

say "mode $MODE, budget ${BUDGET}s, $(uname -sr), Node $(node --version)"
check_compose
case $MODE in
podman) podman_path || fail "containers cannot run here (CONTAINER_CHECK_MODE=podman)" ;;
directory) directory_path ;;
auto)
  if ! podman_path; then
    say "containers cannot run here: running the same steps against a plain directory instead"
    directory_path
  fi
  ;;
*) fail "CONTAINER_CHECK_MODE must be auto, podman or directory" ;;
esac
