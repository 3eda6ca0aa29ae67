#!/usr/bin/env bash
# Installs the Debian packages Wharf's tests and benchmarks need, if missing.
#
#   sudo bash scripts/install-test-deps.sh      # (or as root, e.g. in CI)
#
# - Idempotent and quiet: when everything is present it prints nothing and
#   exits 0 (a few dpkg-query calls, ~0.1 s).
# - Otherwise it runs `apt-get update` once and
#   `apt-get install -y --no-install-recommends` for the missing packages only,
#   then checks that every tool the tests call is really there.
# - Fails loudly (exit 1, message on stderr) if it cannot: not root, not
#   Debian/apt, a package that does not exist or does not install.
#
# What needs what (Debian 12 "bookworm"):
#   skopeo, podman, buildah     e2e tests (test/e2e/). podman pulls conmon,
#                               runc|crun and a network stack (netavark) as hard
#                               dependencies; buildah pulls uidmap.
#   runc                        podman run: crun fails in this sandbox
#                               ("cgroups in hybrid mode not supported").
#   busybox-static              /bin/busybox, the only content of the test
#                               images built from scratch (no internet).
#   util-linux, mount           unshare(1)/mount(8): the e2e helper gives each
#                               tool run a private blob-info cache by
#                               bind-mounting over /var/lib/containers/cache.
#   docker-registry             CNCF Distribution: reference registry for the
#                               e2e harness and the benchmarks.
#   nginx                       load-balancer tests/benchmarks (replicas).
#   swift, swift-*, python3-swiftclient
#                               Swift all-in-one (Swift + S3 API) for the
#                               storage driver tests (scripts/swift/start.sh).
#   curl, ca-certificates       used by scripts and for debugging by hand.
#   chromium, fonts-dejavu-core the web UI's end-to-end test (test/e2e/ui.test.ts)
#                               drives Debian's Chromium with playwright-core
#                               (which downloads no browser); the fonts make
#                               its screenshots readable.
#   mmdebstrap                  the container image test makes its Node 20 base
#                               images from Debian packages
#                               (scripts/make-base-images.sh).
#   systemd                     systemd-analyze verifies the systemd unit
#                               (packaging/systemd/).
#   containerd                  containerd + ctr pull through Wharf with the
#                               sample hosts.toml (test/e2e/mirror-samples).
#   prometheus                  the metrics e2e test: a real Prometheus scrapes
#                               Wharf (test/e2e/prometheus.test.ts); promtool
#                               comes with it.
#
# Env: WHARF_APT_EXTRA="pkg1 pkg2" adds packages; WHARF_APT_LOCK_TIMEOUT
# (seconds, default 600) waits for another apt/dpkg run to finish.
set -euo pipefail

PACKAGES=(
  skopeo
  podman
  buildah
  runc
  conmon
  uidmap
  busybox-static
  util-linux
  mount
  docker-registry
  nginx
  python3
  swift
  swift-proxy
  swift-account
  swift-container
  swift-object
  python3-swiftclient
  curl
  ca-certificates
  openssl
  chromium
  fonts-dejavu-core
  mmdebstrap
  systemd
  containerd
  prometheus
)
# shellcheck disable=SC2206
[ -n "${WHARF_APT_EXTRA:-}" ] && PACKAGES+=(${WHARF_APT_EXTRA})

# Executables the tests call directly, checked after installing.
TOOLS=(
  /usr/bin/skopeo
  /usr/bin/podman
  /usr/bin/buildah
  /usr/sbin/runc
  /bin/busybox
  /usr/bin/unshare
  /usr/bin/docker-registry
  /usr/sbin/nginx
  /usr/bin/python3
  /usr/bin/swift-proxy-server
  /usr/bin/swift-account-server
  /usr/bin/swift-container-server
  /usr/bin/swift-object-server
  /usr/bin/swift
  /usr/bin/openssl
  /usr/bin/chromium
  /usr/bin/mmdebstrap
  /usr/bin/systemd-analyze
  /usr/bin/containerd
  /usr/bin/ctr
  /usr/bin/prometheus
  /usr/bin/promtool
)

die() {
  echo "install-test-deps: ERROR: $*" >&2
  exit 1
}

is_installed() {
  # "install ok installed" only; half-installed/config-files states count as missing.
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]
}

command -v dpkg-query >/dev/null 2>&1 || die "dpkg-query not found: this script supports Debian (12/bookworm) and derivatives only."

missing=()
for p in "${PACKAGES[@]}"; do
  is_installed "$p" || missing+=("$p")
done

missing_tools() {
  local t out=()
  for t in "${TOOLS[@]}"; do
    [ -x "$t" ] || out+=("$t")
  done
  echo "${out[*]:-}"
}

if [ "${#missing[@]}" -eq 0 ]; then
  mt="$(missing_tools)"
  [ -z "$mt" ] && exit 0
  die "all packages are installed but these executables are missing: $mt (a package may be broken; try: apt-get install --reinstall <package>)"
fi

echo "install-test-deps: installing missing packages: ${missing[*]}" >&2

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    exec sudo -n --preserve-env=WHARF_APT_EXTRA,WHARF_APT_LOCK_TIMEOUT bash "$0" "$@"
  fi
  die "must run as root (or with passwordless sudo) to install: ${missing[*]}"
fi
command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install by hand: ${missing[*]}"

export DEBIAN_FRONTEND=noninteractive
lock_timeout="${WHARF_APT_LOCK_TIMEOUT:-600}"
APT_OPTS=(-o "DPkg::Lock::Timeout=${lock_timeout}" -o Dpkg::Use-Pty=0 -o APT::Color=0)

log="$(mktemp -t install-test-deps.XXXXXX.log)"
trap 'rm -f "$log"' EXIT

run_logged() {
  # Keep apt quiet on success, show the tail of its output on failure.
  if ! "$@" >"$log" 2>&1; then
    echo "install-test-deps: FAILED: $*" >&2
    tail -n 40 "$log" >&2
    return 1
  fi
}

run_logged apt-get "${APT_OPTS[@]}" update -q ||
  die "apt-get update failed (see above); is a Debian mirror reachable?"

# Name the packages apt cannot find at all before trying to install them.
unknown=()
for p in "${missing[@]}"; do
  apt-cache show "$p" >/dev/null 2>&1 || unknown+=("$p")
done
[ "${#unknown[@]}" -eq 0 ] || die "apt does not know these packages: ${unknown[*]} (is this Debian 12/bookworm with the main component enabled?)"

run_logged apt-get "${APT_OPTS[@]}" install -y -q --no-install-recommends "${missing[@]}" ||
  die "apt-get install failed for: ${missing[*]}"

still=()
for p in "${missing[@]}"; do
  is_installed "$p" || still+=("$p")
done
[ "${#still[@]}" -eq 0 ] || die "packages still not installed after apt-get: ${still[*]}"
mt="$(missing_tools)"
[ -z "$mt" ] || die "installed, but these executables are missing: $mt"

echo "install-test-deps: done (${#missing[@]} package(s) installed)" >&2
