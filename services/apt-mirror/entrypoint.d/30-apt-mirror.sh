#!/bin/sh
# Renders /etc/nginx/nginx.conf for the apt caching proxy from the environment:
#   PROXY_URL      upstream repository server, scheme://host[:port][/path] (http://deb.debian.org)
#   LISTEN_PORT    port to listen on (80)
#   LISTEN_ALL=1   listen on every address instead of the ENF address only
#   CACHE_MAX_SIZE cache size limit on the volume (10g)
#   PACKAGE_VALID  how long package files (.deb, sources, by-hash) stay fresh (30d)
#   INDEX_VALID    how long index files (InRelease, Release, Packages, ...) stay fresh (5m)
set -eu
me=30-apt-mirror
cache=/var/cache/apt-mirror
PROXY_URL=${PROXY_URL:-http://deb.debian.org}
LISTEN_PORT=${LISTEN_PORT:-80}
CACHE_MAX_SIZE=${CACHE_MAX_SIZE:-10g}
PACKAGE_VALID=${PACKAGE_VALID:-30d}
INDEX_VALID=${INDEX_VALID:-5m}

case "$PROXY_URL" in
  http://?*|https://?*) ;;
  *) echo "$me: error: PROXY_URL=$PROXY_URL: expected http://HOST[:PORT][/PATH] or https://..." >&2; exit 1 ;;
esac
case "$LISTEN_PORT" in
  ''|*[!0-9]*) echo "$me: error: LISTEN_PORT=$LISTEN_PORT: not a port number" >&2; exit 1 ;;
esac
# proxy_pass takes no path in regex locations, so a path in PROXY_URL becomes a rewrite.
origin=$(printf '%s' "$PROXY_URL" | sed -E 's#^(https?://[^/]+).*#\1#')
prefix=$(printf '%s' "${PROXY_URL#"$origin"}" | sed -E 's#/+$##')
rewrite=""
[ -n "$prefix" ] && rewrite="rewrite ^(.*)\$ $prefix\$1 break;"

if [ "${LISTEN_ALL:-0}" = 1 ]; then
  listen="listen $LISTEN_PORT; listen [::]:$LISTEN_PORT;"
  where="every address"
elif [ -n "${ENF_ADDRESS:-}" ]; then
  listen="listen [$ENF_ADDRESS]:$LISTEN_PORT;"
  where="[$ENF_ADDRESS]"
else
  echo "$me: error: ENF_ADDRESS is not set (no tunnel?); set LISTEN_ALL=1 to listen everywhere" >&2
  exit 1
fi

# The cache is a volume: a fresh or host-provided one may belong to root.
mkdir -p "$cache"
chown www-data:www-data "$cache"

cat > /etc/nginx/nginx.conf <<CONF
# written by $me: do not edit, set the environment instead
user www-data;
worker_processes auto;
pid /run/nginx.pid;
error_log stderr warn;
# a graceful stop (SIGQUIT) waits at most this long for downloads in flight
worker_shutdown_timeout 5s;

events { worker_connections 1024; }

http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    server_tokens off;
    access_log /dev/stdout combined;

    proxy_cache_path $cache levels=1:2 keys_zone=apt:32m max_size=$CACHE_MAX_SIZE
                     inactive=60d use_temp_path=off;

    server {
        $listen
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_ssl_server_name on;
        proxy_cache apt;
        # One upstream: the path identifies the file, whatever Host the client sent.
        proxy_cache_key \$request_uri;
        proxy_cache_lock on;
        proxy_cache_lock_timeout 60s;
        proxy_cache_revalidate on;
        proxy_cache_use_stale error timeout updating http_500 http_502 http_503 http_504;
        proxy_cache_background_update on;
        # Validity is ours, not the upstream's headers (they are for browsers and CDNs).
        proxy_ignore_headers Cache-Control Expires Set-Cookie;
        proxy_cache_valid 404 1m;
        add_header X-Cache-Status \$upstream_cache_status always;

        # Package files never change under the same name; by-hash indexes are named by content.
        location ~ (\.(deb|udeb|ddeb|dsc|diff\.gz)|\.(orig|debian)\.tar\.[a-z0-9]+|/by-hash/[^/]+/[0-9a-fA-F]+)\$ {
            $rewrite
            proxy_pass $origin;
            proxy_cache_valid 200 $PACKAGE_VALID;
        }
        # Everything else (InRelease, Release, Packages, Sources, Contents, Translation, ...)
        # changes with every archive update: keep it briefly, then revalidate.
        location / {
            $rewrite
            proxy_pass $origin;
            proxy_cache_valid 200 $INDEX_VALID;
        }
    }
}
CONF
nginx -t -q
echo "$me: info: caching proxy for $PROXY_URL on $where port $LISTEN_PORT, cache $cache (max $CACHE_MAX_SIZE)" >&2
