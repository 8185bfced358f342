#!/usr/bin/env bash
# Build a small local nginx image without any registry: Debian's nginx-light binary (/usr/sbin/nginx,
# installed by scripts/bootstrap.sh) and the shared libraries `ldd` lists, copied into a rootfs with a
# minimal nginx.conf (1 worker, keep-alive, `return 200 "hello from $hostname\n"`, no access log, every
# writable path under /tmp), imported with `docker import`; CMD nginx -g 'daemon off;'.
# Usage: build-nginx-image.sh [TAG]  (default stackctl/nginx:latest)
# Does nothing when the tag already exists (pass FORCE=1 to rebuild).
set -euo pipefail
TAG=${1:-stackctl/nginx:latest}
if [ -z "${FORCE:-}" ] && docker image inspect "$TAG" >/dev/null 2>&1; then exit 0; fi
NGINX=/usr/sbin/nginx
[ -x "$NGINX" ] || { echo "build-nginx-image: $NGINX missing (apt-get install nginx-light)" >&2; exit 1; }
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{usr/sbin,etc/nginx,tmp,run,var/log/nginx,var/lib/nginx,proc,sys,dev}
cp "$NGINX" "$root/usr/sbin/nginx"
# every library the binary loads (the loader included), at the path ldd resolved it to
for lib in $(ldd "$NGINX" | grep -oE '/[^ ]+'); do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
echo 'root:x:0:0:root:/root:/bin/false' > "$root/etc/passwd"
echo 'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >> "$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
printf 'passwd: files\ngroup: files\nhosts: files\n' > "$root/etc/nsswitch.conf"
cat > "$root/etc/nginx/nginx.conf" <<'EOF'
user nobody nogroup;
worker_processes 1;
pid /tmp/nginx.pid;
error_log stderr warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path /tmp/body;
  proxy_temp_path /tmp/proxy;
  fastcgi_temp_path /tmp/fastcgi;
  uwsgi_temp_path /tmp/uwsgi;
  scgi_temp_path /tmp/scgi;
  keepalive_timeout 300s;
  keepalive_requests 1000000;
  default_type text/plain;
  server {
    listen 80 reuseport;
    location / { return 200 "hello from $hostname\n"; }
  }
}
EOF
chmod 1777 "$root/tmp"
tar -C "$root" -c . | docker import \
  -c 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin' -c 'EXPOSE 80' \
  -c 'CMD ["nginx", "-g", "daemon off;"]' - "$TAG" >/dev/null
echo "built $TAG"
