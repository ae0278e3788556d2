#!/usr/bin/env bash
# Starts Debian's nginx (nginx-light, installed by scripts/install-tools.sh; this script
# installs nothing) on two free ports of 127.0.0.1, both limiting requests with
# `limit_req zone=.. rate=10r/s`: the first without a burst, the second with
# `burst=10 nodelay`. Everything nginx writes (pid, logs, temp files) stays in DIR.
#
#   scripts/nginx-limit-req.sh --check   exits 0 if nginx is installed
#   scripts/nginx-limit-req.sh DIR       prints "PORT_WITHOUT_BURST PORT_WITH_BURST" on a
#                                        line, then runs nginx in the foreground (one
#                                        process, no workers) until it is killed
#
# Each port serves /window and /spaced (a small file), each location with its own zone,
# so that two clients can be measured at once. Used by `cargo run --example nginx`.
set -euo pipefail

nginx="${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}"
if [[ ! -x "$nginx" ]]; then
  echo "nginx is not installed (scripts/install-tools.sh installs Debian's nginx-light)" >&2
  exit 2
fi
if [[ "${1:-}" == "--check" ]]; then
  exit 0
fi
dir="${1:?usage: $0 DIR | --check}"
mkdir -p "$dir/html" "$dir/temp"
dir="$(cd "$dir" && pwd)"
printf 'ok\n' >"$dir/html/window"
printf 'ok\n' >"$dir/html/spaced"

# A port nothing listens on (a connection to it is refused).
free_port() {
  local port
  while true; do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
}
plain="$(free_port)"
burst="$(free_port)"
while [[ "$burst" == "$plain" ]]; do burst="$(free_port)"; done

cat >"$dir/nginx.conf" <<CONF
daemon off;
master_process off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 512; }
http {
    access_log off;
    client_body_temp_path $dir/temp/body;
    proxy_temp_path $dir/temp/proxy;
    fastcgi_temp_path $dir/temp/fastcgi;
    uwsgi_temp_path $dir/temp/uwsgi;
    scgi_temp_path $dir/temp/scgi;
    default_type text/plain;
    root $dir/html;

    limit_req_status 429;
    limit_req_log_level info;
    limit_req_zone \$binary_remote_addr zone=plain_window:1m rate=10r/s;
    limit_req_zone \$binary_remote_addr zone=plain_spaced:1m rate=10r/s;
    limit_req_zone \$binary_remote_addr zone=burst_window:1m rate=10r/s;
    limit_req_zone \$binary_remote_addr zone=burst_spaced:1m rate=10r/s;

    server {
        listen 127.0.0.1:$plain;
        location /window { limit_req zone=plain_window; }
        location /spaced { limit_req zone=plain_spaced; }
    }
    server {
        listen 127.0.0.1:$burst;
        location /window { limit_req zone=burst_window burst=10 nodelay; }
        location /spaced { limit_req zone=burst_spaced burst=10 nodelay; }
    }
}
CONF

"$nginx" -t -q -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log"
echo "$plain $burst"
exec "$nginx" -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log"
