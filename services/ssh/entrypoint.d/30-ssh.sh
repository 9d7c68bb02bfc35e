#!/bin/sh
# enf/ssh: get sshd ready to start.
# - the login user named by USER (default jump), created if missing, with no usable password;
# - its authorized_keys: every /data/keys/*.pub concatenated (read at each start);
# - host keys in /data/ssh-host-keys, generated on first start so they survive the container;
# - ListenAddress = ENF_ADDRESS (from enf-init), or every address when LISTEN_ALL=1;
# - /run/sshd (sshd's privilege-separation directory); then `sshd -t` checks it all.
set -eu
me=30-ssh
info() { echo "$me: info: $*" >&2; }
fail() { echo "$me: error: $*" >&2; exit 1; }

user=${USER:-jump}
keys_dir=${SSH_KEYS_DIR:-/data/keys}
host_keys_dir=${SSH_HOST_KEYS_DIR:-/data/ssh-host-keys}
runtime_conf=/etc/ssh/sshd_config.d/00-enf-runtime.conf

case "$user" in
  root) fail "USER=root: root logins are refused (PermitRootLogin no); name another user" ;;
  ''|-*|*[!a-z0-9_.-]*) fail "USER='$user' is not a valid user name (lower case, digits, _ . -)" ;;
esac

# The user. "*" as password: nothing matches it, so the account has no password; sshd (UsePAM no)
# treats "!" as a locked account and would refuse keys too, "*" it does not.
if ! id "$user" >/dev/null 2>&1; then
  useradd --create-home --shell /bin/sh "$user"
  usermod -p '*' "$user"
  info "created user $user (no password)"
fi
home=$(getent passwd "$user" | cut -d: -f6)
group=$(id -gn "$user")

# Its keys.
install -d -m 0700 -o "$user" -g "$group" "$home/.ssh"
tmp="$home/.ssh/authorized_keys.tmp"
: > "$tmp"
count=0
if [ -d "$keys_dir" ]; then
  for f in "$keys_dir"/*.pub; do
    [ -f "$f" ] || continue
    cat "$f" >> "$tmp"
    # A file without a final newline would glue its last key to the next file's first.
    [ -z "$(tail -c 1 "$f")" ] || echo >> "$tmp"
    count=$((count + 1))
  done
fi
chown "$user:$group" "$tmp"
chmod 0600 "$tmp"
mv "$tmp" "$home/.ssh/authorized_keys"
if [ "$count" -eq 0 ]; then
  echo "$me: warning: no $keys_dir/*.pub: nobody can log in (mount your public keys there)" >&2
else
  info "$home/.ssh/authorized_keys: $(grep -c . "$home/.ssh/authorized_keys") keys from $count files in $keys_dir"
fi

# Host keys, made once per volume.
mkdir -p "$host_keys_dir"
chmod 0700 "$host_keys_dir"
for type in ed25519 ecdsa rsa; do
  key="$host_keys_dir/ssh_host_${type}_key"
  if [ ! -s "$key" ]; then
    rm -f "$key" "$key.pub"
    ssh-keygen -q -t "$type" -N '' -C "enf-ssh-host" -f "$key"
    info "generated host key $key: $(ssh-keygen -l -f "$key.pub")"
  fi
done

# Runtime configuration.
{
  echo "# written by $me at start-up"
  for type in ed25519 ecdsa rsa; do echo "HostKey $host_keys_dir/ssh_host_${type}_key"; done
  if [ "${LISTEN_ALL:-0}" = 1 ]; then
    echo "ListenAddress ::"
    echo "ListenAddress 0.0.0.0"
  else
    [ -n "${ENF_ADDRESS:-}" ] || fail "ENF_ADDRESS is not set (no tunnel?); set LISTEN_ALL=1 to listen everywhere"
    echo "ListenAddress $ENF_ADDRESS"
  fi
} > "$runtime_conf"

install -d -m 0755 /run/sshd
/usr/sbin/sshd -t || fail "sshd -t rejected the configuration (see above)"
if [ "${LISTEN_ALL:-0}" = 1 ]; then
  info "sshd will listen on every address, port 22 (LISTEN_ALL=1)"
else
  info "sshd will listen on [$ENF_ADDRESS]:22"
fi
