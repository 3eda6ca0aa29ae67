#!/usr/bin/env bash
# Makes the two Node 20 base images the Containerfile builds FROM, from Debian
# packages and this machine's Node only — for machines that cannot pull
# node:20-bookworm(-slim) from a public registry (the tests run on such a one).
#
#   bash scripts/make-base-images.sh            # as root (mmdebstrap)
#   buildah build --format docker \
#     --build-arg BUILD_BASE=localhost/wharf-base/node20-build:bookworm \
#     --build-arg BASE=localhost/wharf-base/node20-runtime:bookworm \
#     -t wharf -f Containerfile .
#
# The images, like the public ones they stand in for:
#   localhost/wharf-base/node20-runtime:bookworm   Debian 12 "essential" packages
#       + libstdc++6 and passwd, and node in /usr/local/bin       (node:20-bookworm-slim)
#   localhost/wharf-base/node20-build:bookworm     the same + gcc, g++, make, python3,
#       and npm and Node's headers in /usr/local                  (node:20-bookworm)
# Node is copied from the install prefix of the `node` on PATH (its bin/node,
# lib/node_modules/npm and include/node), so it must be Node 20.
#
# The root file systems are cached as tarballs under $WHARF_BASE_CACHE
# (default ${XDG_CACHE_HOME:-~/.cache}/wharf/base-images), keyed by this
# script, the Node binary and the apt sources; a later run only imports them
# (a few seconds) into the containers storage that podman uses here
# (CONTAINERS_STORAGE_CONF etc. are honoured). WHARF_BASE_REBUILD=1 ignores
# the cache. WHARF_BASE_SOURCES: an apt sources file for mmdebstrap (default:
# /etc/apt/sources.list.d/debian.sources when present, else deb.debian.org).
#
# Prints the two image names, one per line, on stdout; progress on stderr.
set -euo pipefail

RUNTIME_REF=localhost/wharf-base/node20-runtime:bookworm
BUILD_REF=localhost/wharf-base/node20-build:bookworm
SUITE=bookworm
RUNTIME_PACKAGES=(libstdc++6 passwd)
BUILD_PACKAGES=(libstdc++6 passwd gcc g++ make python3 libc6-dev)

die() {
  echo "make-base-images: ERROR: $*" >&2
  exit 1
}
say() { echo "make-base-images: $*" >&2; }

for t in mmdebstrap podman sha256sum tar; do
  command -v "$t" >/dev/null 2>&1 || die "$t not found (Debian packages: mmdebstrap, podman, coreutils, tar)"
done
[ "$(id -u)" -eq 0 ] || die "must run as root (mmdebstrap's root mode)"

node_bin="$(readlink -f "$(command -v node)")" || die "node not found on PATH"
node_version="$("$node_bin" --version)"
case "$node_version" in v20.*) ;; *) die "node on PATH is $node_version; the image needs Node 20" ;; esac
prefix="$(dirname "$(dirname "$node_bin")")"
[ -d "$prefix/lib/node_modules/npm" ] || die "npm not found in $prefix/lib/node_modules/npm"
[ -f "$prefix/include/node/node_api.h" ] || die "Node's headers not found in $prefix/include/node (the native addon build needs them)"

sources="${WHARF_BASE_SOURCES:-}"
if [ -z "$sources" ] && [ -f /etc/apt/sources.list.d/debian.sources ]; then
  sources=/etc/apt/sources.list.d/debian.sources
fi
sources_text=""
[ -n "$sources" ] && sources_text="$(cat "$sources")"

cache="${WHARF_BASE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wharf/base-images}"
mkdir -p "$cache"
key="$(
  {
    cat "$0"
    echo "$node_version"
    sha256sum "$node_bin" | cut -d' ' -f1
    cat "$prefix/lib/node_modules/npm/package.json"
    echo "$sources_text"
    uname -m
  } | sha256sum | cut -c1-16
)"

# A tar stream of Node laid out as the official images have it (/usr/local).
node_tar() { # $1 = runtime|build
  local stage
  stage="$(mktemp -d)"
  mkdir -p "$stage/usr/local/bin"
  cp "$node_bin" "$stage/usr/local/bin/node"
  if [ "$1" = build ]; then
    mkdir -p "$stage/usr/local/lib/node_modules" "$stage/usr/local/include"
    cp -a "$prefix/lib/node_modules/npm" "$stage/usr/local/lib/node_modules/npm"
    cp -a "$prefix/include/node" "$stage/usr/local/include/node"
    ln -s ../lib/node_modules/npm/bin/npm-cli.js "$stage/usr/local/bin/npm"
    ln -s ../lib/node_modules/npm/bin/npx-cli.js "$stage/usr/local/bin/npx"
  fi
  echo "$stage"
}

make_rootfs() { # $1 = runtime|build, $2 = output tarball
  local kind="$1" out="$2" stage include
  if [ "$kind" = build ]; then include="$(IFS=,; echo "${BUILD_PACKAGES[*]}")"; else include="$(IFS=,; echo "${RUNTIME_PACKAGES[*]}")"; fi
  stage="$(node_tar "$kind")"
  local args=(
    --variant=essential
    --include="$include"
    --mode=root
    --format=tar
    --quiet
    # No fsync per unpacked file (dpkg's default): a throw-away build tree.
    --hook-dir=/usr/share/mmdebstrap/hooks/eatmydata
    # No documentation, manual pages or translations: a container needs none.
    --dpkgopt='path-exclude=/usr/share/doc/*'
    --dpkgopt='path-include=/usr/share/doc/*/copyright'
    --dpkgopt='path-exclude=/usr/share/man/*'
    --dpkgopt='path-exclude=/usr/share/locale/*'
    --dpkgopt='path-exclude=/usr/share/info/*'
    --customize-hook="copy-in $stage/usr/local /usr"
    --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/* "$1"/var/log/*'
  )
  say "building the $kind root file system with mmdebstrap (Debian $SUITE${sources:+ from $sources})"
  # An explicit mirror argument: with none and a non-terminal stdin,
  # mmdebstrap would read sources.list from stdin.
  local mirror="${sources:-http://deb.debian.org/debian}"
  mmdebstrap "${args[@]}" "$SUITE" "$out.tmp" "$mirror" </dev/null ||
    { rm -rf "$stage" "$out.tmp"; die "mmdebstrap failed for the $kind image"; }
  rm -rf "$stage"
  mv "$out.tmp" "$out" # atomic: a concurrent run sees a whole tarball or none
}

import_image() { # $1 = kind, $2 = ref, $3 = tarball
  local changes=(
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
    --change "ENV NODE_VERSION=${node_version#v}"
    --change 'CMD ["node"]'
  )
  podman import -q "${changes[@]}" "$3" "$2" >/dev/null || die "podman import of $3 failed"
  say "$1 image: $2 ($(du -h "$3" | cut -f1) root file system)"
}

for kind in runtime build; do
  tarball="$cache/node20-$kind-$key.tar"
  if [ "${WHARF_BASE_REBUILD:-0}" = 1 ] || [ ! -s "$tarball" ]; then
    started=$SECONDS
    make_rootfs "$kind" "$tarball"
    say "$kind root file system made in $((SECONDS - started)) s: $tarball"
    # Older tarballs of this kind are stale (another Node or script version).
    find "$cache" -maxdepth 1 -name "node20-$kind-*.tar" ! -name "node20-$kind-$key.tar" -delete
  else
    say "$kind root file system from the cache: $tarball"
  fi
  if [ "$kind" = runtime ]; then ref=$RUNTIME_REF; else ref=$BUILD_REF; fi
  import_image "$kind" "$ref" "$tarball"
done

echo "$BUILD_REF"
echo "$RUNTIME_REF"
