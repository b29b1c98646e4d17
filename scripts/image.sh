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
  debug) cargo build -q --bin elb-operator -p elb-operator ;;
  release) cargo build -q --release --bin elb-operator -p elb-operator ;;
  *) cargo build -q --profile "$profile" --bin elb-operator -p elb-operator ;;
esac
bin="$(bin_dir "$profile")/elb-operator"
if readelf -l "$bin" | grep -q 'INTERP'; then
  echo "image: $bin is dynamically linked; build it through .cargo/config.toml (crt-static)" >&2
  exit 1
fi

# The build context: binary (stripped), CA bundle, passwd/group for the nonroot user.
ctx=.work/image
rm -rf "$ctx" && mkdir -p "$ctx/amd64"
strip -o "$ctx/amd64/elb-operator" "$bin"
chmod 0555 "$ctx/amd64/elb-operator"
cp /etc/ssl/certs/ca-certificates.crt "$ctx/ca-certificates.crt"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > "$ctx/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' > "$ctx/group"
chmod 0444 "$ctx/ca-certificates.crt" "$ctx/passwd" "$ctx/group"

version=$(crate_version)
"$ENGINE" build --quiet --build-arg TARGETARCH=amd64 --build-arg VERSION="$version" \
  -f Dockerfile -t "$IMAGE_NAME" "$ctx" >/dev/null
size=$("$ENGINE" image inspect --format '{{.Size}}' "$IMAGE_NAME")
echo "image: $IMAGE_NAME ($profile build, $((size / 1024 / 1024)) MiB, binary $(($(stat -c %s "$ctx/amd64/elb-operator") / 1024 / 1024)) MiB)"
if [ -n "$save" ]; then
  rm -f "$save"
  "$ENGINE" save --format oci-archive -o "$save" "$IMAGE_NAME"
  echo "image: saved $save ($(($(stat -c %s "$save") / 1024 / 1024)) MiB)"
fi
