#!/bin/sh
# ENF DNS for the service: ENF_DNS names the DNS servers (IPv6 addresses on the ENF, separated by
# spaces or commas) and ENF_DNS_SEARCH the search domains; /etc/resolv.conf is written from them.
# Without ENF_DNS the file is left as Docker made it.
set -eu
me=20-enf-dns
if [ -z "${ENF_DNS:-}" ]; then
  echo "$me: info: ENF_DNS not set; /etc/resolv.conf left as it is" >&2
  exit 0
fi
{
  echo "# written by $me from ENF_DNS${ENF_DNS_SEARCH:+ and ENF_DNS_SEARCH}"
  [ -n "${ENF_DNS_SEARCH:-}" ] && echo "search $(echo "$ENF_DNS_SEARCH" | tr ',' ' ')"
  for server in $(echo "$ENF_DNS" | tr ',' ' '); do echo "nameserver $server"; done
} > /etc/resolv.conf.enf
# /etc/resolv.conf is a bind mount in Docker: rewrite it in place, do not rename over it.
cat /etc/resolv.conf.enf > /etc/resolv.conf
rm -f /etc/resolv.conf.enf
echo "$me: info: /etc/resolv.conf: nameserver $(echo "$ENF_DNS" | tr ',' ' ')" >&2
