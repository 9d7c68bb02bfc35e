#!/bin/sh
# Renders /etc/dnsmasq-enf.conf for the ENF DNS server from the environment:
#   HOSTS_FILE    hosts file (ADDRESS NAME...) or a directory of them (/data/dns/hosts);
#                 a directory is watched and re-read on change, a file on SIGHUP
#   ZONE_FILE     optional zone file: its AAAA and A records are served too (read at start)
#   DOMAIN        optional local domain: short names in the hosts file also answer as
#                 NAME.DOMAIN, and names under DOMAIN are never forwarded
#   FORWARD       optional upstream resolvers (spaces or commas); off by default: then only the
#                 names we know are answered, everything else gets REFUSED/NXDOMAIN
#   LISTEN_ALL=1  listen on every address instead of the ENF address only
#   LOG_QUERIES=1 log every query to stderr
set -eu
me=30-dns
conf=/etc/dnsmasq-enf.conf
HOSTS_FILE=${HOSTS_FILE:-/data/dns/hosts}

if [ "${LISTEN_ALL:-0}" = 1 ]; then
  where="every address"
elif [ -n "${ENF_ADDRESS:-}" ]; then
  where="[$ENF_ADDRESS]"
else
  echo "$me: error: ENF_ADDRESS is not set (no tunnel?); set LISTEN_ALL=1 to listen everywhere" >&2
  exit 1
fi

{
  echo "# written by $me: do not edit, set the environment instead"
  echo "log-facility=-"
  echo "no-resolv"          # upstreams come from FORWARD only, never /etc/resolv.conf
  echo "no-hosts"           # not the container's own /etc/hosts
  echo "no-poll"
  echo "domain-needed"      # never forward plain names
  echo "bogus-priv"
  echo "cache-size=1000"
  echo "local-ttl=60"
  [ "${LOG_QUERIES:-0}" = 1 ] && echo "log-queries"
  if [ "${LISTEN_ALL:-0}" != 1 ]; then
    # bind-dynamic: listen on exactly this address, and follow it if the tunnel re-creates it.
    echo "listen-address=$ENF_ADDRESS"
    echo "bind-dynamic"
  fi
  if [ -d "$HOSTS_FILE" ]; then
    echo "hostsdir=$HOSTS_FILE"
  elif [ -f "$HOSTS_FILE" ]; then
    echo "addn-hosts=$HOSTS_FILE"
  else
    echo "$me: warning: HOSTS_FILE $HOSTS_FILE does not exist; serving no hosts from it" >&2
  fi
  if [ -n "${ZONE_FILE:-}" ]; then
    if [ ! -f "$ZONE_FILE" ]; then
      echo "$me: error: ZONE_FILE $ZONE_FILE does not exist" >&2; exit 1
    fi
    # The simple zone-file subset people write by hand: $ORIGIN, NAME [TTL] [IN] AAAA|A ADDRESS,
    # "@" and blank owner names. Anything else (CNAME, MX, SRV, ...) is ignored with a warning.
    awk -v me="$me" '
      function fq(n) { if (n == "@") return origin; if (n ~ /\.$/) return substr(n, 1, length(n)-1);
                       return origin == "" ? n : n "." origin }
      { sub(/;.*/, "") }
      /^[ \t]*$/ { next }
      $1 == "$ORIGIN" { origin = $2; sub(/\.$/, "", origin); next }
      $1 ~ /^\$/ { next }
      { if ($0 ~ /^[ \t]/) name = last; else { name = fq($1); last = name; $1 = "" }
        $0 = $0; i = 1
        if ($i ~ /^[0-9]+$/) i++
        if ($i == "IN") i++
        if ($i ~ /^[0-9]+$/) i++
        if ($i == "AAAA" || $i == "A") print "host-record=" name "," $(i+1)
        else if ($i != "SOA" && $i != "NS" && $i != "(" && $i != "") print me ": warning: zone record ignored: " name " " $i > "/dev/stderr" }
    ' "$ZONE_FILE"
  fi
  if [ -n "${DOMAIN:-}" ]; then
    echo "domain=$DOMAIN"
    echo "expand-hosts"
    echo "local=/$DOMAIN/"
  fi
  for server in $(echo "${FORWARD:-}" | tr ',' ' '); do echo "server=$server"; done
} > "$conf"

dnsmasq --test --conf-file="$conf" 2>&1 | grep -v '^dnsmasq: syntax check OK' >&2 || true
dnsmasq --test --conf-file="$conf" >/dev/null 2>&1 || { echo "$me: error: $conf is not valid" >&2; exit 1; }
echo "$me: info: DNS on $where port 53 from ${HOSTS_FILE}${ZONE_FILE:+ and $ZONE_FILE}${DOMAIN:+, domain $DOMAIN}, forwarding ${FORWARD:-nothing}" >&2
