#!/usr/bin/env bash
# Builds the natrium Docker image without pulling anything from a registry:
# FROM scratch + the release binary + the shared libraries it links (found with ldd)
# + the three cluster configs. The staged files go to target/docker-context/rootfs,
# the only part of the repository the build context sends (see .dockerignore).
#
#   chaos/docker-build.sh                 # builds natrium:cluster
#   IMAGE=natrium:dev chaos/docker-build.sh
#   NATRIUM_BIN=/path/to/natrium chaos/docker-build.sh   # skip cargo build
set -euo pipefail
cd "$(dirname "$0")/.."
image="${IMAGE:-natrium:cluster}"
bin="${NATRIUM_BIN:-}"
if [ -z "$bin" ]; then
  cargo build --release --bin natrium
  bin="${CARGO_TARGET_DIR:-target}/release/natrium"
fi
root=target/docker-context/rootfs
rm -rf target/docker-context
mkdir -p "$root/etc/natrium" "$root/data" "$root/tmp"
cp "$bin" "$root/natrium"
strip "$root/natrium" 2>/dev/null || true
# The dynamic loader and every library the binary links, at the same paths.
for lib in $(ldd "$bin" | grep -o '/[^ ]*'); do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
printf 'hosts: files dns\n' > "$root/etc/nsswitch.conf"
cp cluster-configs/node1.conf cluster-configs/node2.conf cluster-configs/node3.conf "$root/etc/natrium/"
docker build -t "$image" -f Dockerfile .
echo "built $image"
