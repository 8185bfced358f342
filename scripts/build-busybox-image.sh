#!/usr/bin/env bash
# Build a small local image without any registry: a rootfs made of Debian's static busybox,
# imported with `docker import`. Usage: build-busybox-image.sh [TAG]  (default stackctl/busybox:latest)
# Does nothing when the tag already exists (pass FORCE=1 to rebuild).
set -euo pipefail
TAG=${1:-stackctl/busybox:latest}
if [ -z "${FORCE:-}" ] && docker image inspect "$TAG" >/dev/null 2>&1; then exit 0; fi
BUSYBOX=/bin/busybox
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,www,root,proc,sys,dev,var/run}
cp "$BUSYBOX" "$root/bin/busybox"
for applet in $("$root/bin/busybox" --list); do
  [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
done
echo 'root:x:0:0:root:/root:/bin/sh' > "$root/etc/passwd"
echo 'nobody:x:65534:65534:nobody:/:/bin/false' >> "$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
echo 'hello from stackctl' > "$root/www/index.html"
chmod 1777 "$root/tmp"
tar -C "$root" -c . | docker import \
  -c 'ENV PATH=/bin:/sbin:/usr/bin:/usr/sbin' -c 'CMD ["sh"]' - "$TAG" >/dev/null
echo "built $TAG"
