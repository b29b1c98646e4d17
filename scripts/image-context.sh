#!/usr/bin/env bash
# Lays out the container image's build context (see Dockerfile) in DIR from static binaries:
#   scripts/image-context.sh DIR BINARY:ARCH [BINARY:ARCH...]
# Used by scripts/image.sh (`make image`) and by the release workflow (amd64 + arm64).
set -euo pipefail
ctx=${1:?usage: image-context.sh DIR BINARY:ARCH...}
shift
rm -rf "$ctx" && mkdir -p "$ctx"
for pair in "$@"; do
  bin=${pair%:*} arch=${pair##*:}
  if readelf -l "$bin" | grep -q INTERP; then
    echo "image-context: $bin is dynamically linked; build it with .cargo/config.toml's crt-static" >&2
    exit 1
  fi
  mkdir -p "$ctx/$arch"
  # Symbols only cost space in the image; strip works on either architecture's ELF.
  strip -o "$ctx/$arch/elb-operator" "$bin" 2>/dev/null || cp "$bin" "$ctx/$arch/elb-operator"
  chmod 0555 "$ctx/$arch/elb-operator"
done
cp /etc/ssl/certs/ca-certificates.crt "$ctx/ca-certificates.crt"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > "$ctx/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' > "$ctx/group"
chmod 0444 "$ctx/ca-certificates.crt" "$ctx/passwd" "$ctx/group"
