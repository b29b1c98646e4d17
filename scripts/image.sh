#!/usr/bin/env bash
# `make image`: builds the operator's container image (Dockerfile, FROM scratch) from the
# shared static build, with podman (or CONTAINER_ENGINE=docker).
#   PROFILE=debug      the build the tests and the demo use (default: no extra compile)
#   PROFILE=release    an optimised binary, as the release workflow ships
#   IMAGE_NAME=...     the tag (default localhost/elb-operator:dev)
#   --save FILE        also write the image as an OCI archive (the release artifact)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
profile=${PROFILE:-debug}
save=
[ "${1:-}" = "--save" ] && save=${2:?--save needs a file name}

case "$profile" in
  debug) build_shared ;;
  release) cargo build -q --release --bin elb-operator -p elb-operator ;;
  *) cargo build -q --profile "$profile" --bin elb-operator -p elb-operator ;;
esac
bin="$(bin_dir "$profile")/elb-operator"
ctx=.work/image
scripts/image-context.sh "$ctx" "$bin:amd64"

version=$(crate_version)
old=$("$ENGINE" image inspect --format '{{.Id}}' "$IMAGE_NAME" 2>/dev/null || true)
layers=()
[ "$ENGINE" = podman ] && layers=(--layers=false)  # no intermediate images left behind
"$ENGINE" build --quiet "${layers[@]}" --build-arg TARGETARCH=amd64 --build-arg VERSION="$version" \
  -f Dockerfile -t "$IMAGE_NAME" "$ctx" >/dev/null
new=$("$ENGINE" image inspect --format '{{.Id}}' "$IMAGE_NAME")
if [ -n "$old" ] && [ "$old" != "$new" ]; then
  "$ENGINE" rmi "$old" >/dev/null 2>&1 || true  # the previous build, now untagged
fi
size=$("$ENGINE" image inspect --format '{{.Size}}' "$IMAGE_NAME")
echo "image: $IMAGE_NAME ($profile build, $((size / 1024 / 1024)) MiB, binary $(($(stat -c %s "$ctx/amd64/elb-operator") / 1024 / 1024)) MiB)"
if [ -n "$save" ]; then
  rm -f "$save"
  "$ENGINE" save --format oci-archive -o "$save" "$IMAGE_NAME"
  echo "image: saved $save ($(($(stat -c %s "$save") / 1024 / 1024)) MiB)"
fi
