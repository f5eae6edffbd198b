#!/usr/bin/env bash
# The README's first hour, proven on a fresh machine: a new Debian 12 container with only Node and npm (Node 20 and
# npm 11 by default, as CI has; FRESH_NODE_MAJOR=24 for Node 24) gets a git clone of this repository's committed
# HEAD and runs the README's two opening command lines verbatim:
#   1. the first (install, build, start) in the background, until GET /healthz on :8000 answers 200; then SIGTERM,
#      and its start and stop log lines must be there;
#   2. the second (install, the whole test suite) in the foreground; it must exit 0.
# System packages come the way the README says: `npm test` installs them itself (the container runs as root).
# The docker test inside: the container gets the host's Docker engine through its socket (mounted at
# /var/run/docker.sock) and shares the host's network (--network host), so the images the test builds and the ports
# it publishes are the host engine's, reached on 127.0.0.1 as on any machine. It also gets CAP_SYS_ADMIN and /dev/fuse
# (not --privileged, which this workplace's engine cannot grant), because the suite mounts a tmpfs (disk-full test)
# and FUSE file systems (power-cut tests), and a 1 GiB /dev/shm for Chromium. Nothing is skipped.
# Where no engine answers `docker info`, ../shared/tools/docker-local starts one and builds the base image (root).
# Usage: scripts/fresh-machine-test.sh        (exit 0 when both lines passed; prints the time of each)
set -euo pipefail
repo=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
NODE_MAJOR=${FRESH_NODE_MAJOR:-20}
IMAGE=node:${NODE_MAJOR}-bookworm-slim
NAME=mini-kafka-fresh-$$-$RANDOM
tool=$repo/../shared/tools/docker-local
say() { printf '[fresh-machine %s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }
die() { say "FAILED: $*" >&2; exit 1; }

work=$(mktemp -d /var/tmp/mini-kafka-fresh.XXXXXX)
cleanup() {
  docker rm -f "$NAME" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'die "interrupted"' INT TERM HUP

# A Docker engine: the one `docker info` reaches, else docker-local's.
if ! docker info >/dev/null 2>&1; then
  [ -x "$tool" ] || die "no Docker engine answers \`docker info\` and $tool does not exist to start one"
  say "no engine answers \`docker info\`: starting one with $tool"
  eval "$("$tool" start)"
fi
sock=/var/run/docker.sock
case "${DOCKER_HOST:-}" in unix://*) sock=${DOCKER_HOST#unix://} ;; "") ;; *) die "DOCKER_HOST=$DOCKER_HOST: only a unix socket can be handed to the container" ;; esac
[ -S "$sock" ] || die "no Docker socket at $sock"
if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
  if [ -x "$tool" ] && [ "$sock" = "${DOCKER_LOCAL_DIR:-/var/tmp/docker-local}/docker.sock" ]; then
    say "building $IMAGE with docker-local (Debian bookworm + Node $NODE_MAJOR + npm 11; nothing can be pulled here)"
    "$tool" base "$IMAGE" "$NODE_MAJOR"
  else
    docker pull "$IMAGE"
  fi
fi
# The first line of README's first bash block publishes :8000 on the host network: it must be free.
if (exec 3<>/dev/tcp/127.0.0.1/8000) 2>/dev/null; then die "something already listens on 127.0.0.1:8000, where the README's first line starts the broker"; fi

# The README's two opening command lines, exactly as written (without their comments).
line1=$(awk '/^```bash/{f=1;next} f&&/^```/{exit} f' "$repo/README.md" | sed -n 1p | sed 's/[[:space:]]*#.*$//')
line2=$(awk '/^```bash/{f=1;next} f&&/^```/{exit} f' "$repo/README.md" | sed -n 2p | sed 's/[[:space:]]*#.*$//')
[ -n "$line1" ] && [ -n "$line2" ] || die "cannot read the two opening command lines of README.md"

git clone -q "$repo" "$work/mini-kafka"
head=$(git -C "$work/mini-kafka" log -1 --format='%h %s')
dirty=$(git -C "$repo" status --porcelain | wc -l)
note=""; [ "$dirty" -gt 0 ] && note=" ($dirty uncommitted change(s) of the work tree are not in it)"
say "clone of $repo at HEAD: $head$note"
say "image $IMAGE; README line 1: $line1"
say "README line 2: $line2"

# Runs inside the container, in the clone, as root.
inner=$(cat <<'INNER'
set -euo pipefail
say() { printf '[in container %s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }
say "fresh machine: $(. /etc/os-release; echo "$PRETTY_NAME"), node $(node --version), npm $(npm --version); of git, python3, java, chromium, docker it has: [$(for b in git python3 java chromium docker; do command -v $b >/dev/null && printf '%s ' $b; done)]"
t0=$(date +%s)
say "line 1 (background): $LINE1"
setsid bash -c "$LINE1" > /tmp/line1.log 2>&1 &
pid=$!
node -e '
  const deadline = Date.now() + 15 * 60_000;
  (async () => {
    for (;;) {
      try { const r = await fetch("http://127.0.0.1:8000/healthz"); if (r.status === 200) return; } catch {}
      try { process.kill(Number(process.argv[1]), 0); } catch { console.error("line 1 exited before /healthz answered"); process.exit(1); }
      if (Date.now() > deadline) { console.error("no 200 from /healthz within 15 min"); process.exit(1); }
      await new Promise((r) => setTimeout(r, 500));
    }
  })();' "$pid" || { tail -40 /tmp/line1.log; exit 1; }
t1=$(date +%s)
say "line 1: GET /healthz answered 200 after $((t1 - t0)) s; stopping it (SIGTERM)"
kill -TERM -- "-$pid"
# The shell running line 1 ends at once; the broker drains first: wait for the whole process group (at most 30 s).
for _ in $(seq 1 150); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.2; done
kill -0 -- "-$pid" 2>/dev/null && { say "line 1 still running 30 s after SIGTERM"; exit 1; }
grep -q '"event":"start"' /tmp/line1.log || { tail -20 /tmp/line1.log; say "no start line in the broker's log"; exit 1; }
grep -q '"event":"stop","reason":"SIGTERM"' /tmp/line1.log || { tail -20 /tmp/line1.log; say "no stop line in the broker's log"; exit 1; }
say "npm ci printed $(grep -c EBADENGINE /tmp/line1.log || true) EBADENGINE line(s)"
grep '"event":"st' /tmp/line1.log | sed 's/^/    /'
t2=$(date +%s)
say "line 2 (foreground): $LINE2"
bash -c "$LINE2"
t3=$(date +%s)
say "line 1: $((t1 - t0)) s to /healthz; line 2: $((t3 - t2)) s; total $((t3 - t0)) s"
INNER
)

# The host's CA bundle, for Node (npm) in the container: where the npm registry is reached through a TLS proxy (as in
# this workplace) the bundle holds its CA; the image has a copy in /etc/ssl/certs, but installing the test packages
# pulls in Debian's ca-certificates, which rewrites that file without it. Harmless elsewhere.
ca=()
[ -f /etc/ssl/certs/ca-certificates.crt ] && ca=(-v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/host-ca-certificates.crt:ro -e NODE_EXTRA_CA_CERTS=/etc/ssl/host-ca-certificates.crt)
say "starting the container ($NAME): --network host, CAP_SYS_ADMIN, /dev/fuse, Docker socket $sock mounted"
start=$(date +%s)
docker run --name "$NAME" --network host --cap-add SYS_ADMIN --device /dev/fuse --shm-size 1g "${ca[@]}" \
  -v "$sock:/var/run/docker.sock" -v "$work/mini-kafka:/root/mini-kafka" -w /root/mini-kafka \
  -e LINE1="$line1" -e LINE2="$line2" -e CI=true \
  "$IMAGE" bash -c "$inner" || die "the README's commands failed in the fresh container (after $(( $(date +%s) - start )) s)"
say "PASSED in $(( $(date +%s) - start )) s: both README command lines, verbatim, on a fresh Debian 12 with Node $NODE_MAJOR"
