//! The tunnel's TCP socket: made by hand so that SO_MARK, keepalive and TCP_NODELAY are set
//! before `connect`, which runs non-blocking (the loop waits for it with a deadline).

use std::io;
use std::net::SocketAddr;
use std::os::fd::{FromRawFd, OwnedFd};

/// TCP keepalive as the reference client sets it: idle 300 s, then a probe every 10 s, 6 tries.
const KEEPALIVE_IDLE_SECS: i32 = 300;
const KEEPALIVE_INTERVAL_SECS: i32 = 10;
const KEEPALIVE_PROBES: i32 = 6;

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn set(fd: &OwnedFd, level: libc::c_int, name: libc::c_int, value: libc::c_int) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: an int option value of the right size on a socket we own.
    check(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            &value as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    })
}

/// Starts a non-blocking connect to `addr`; `fwmark` > 0 marks the socket (SO_MARK) so that the
/// policy routing for `default` does not send the tunnel into itself.
pub fn connect(addr: SocketAddr, fwmark: u32) -> io::Result<mio::net::TcpStream> {
    let domain = if addr.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    // SAFETY: socket() has no memory preconditions; the fd is owned right after.
    let raw = unsafe {
        libc::socket(
            domain,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    };
    check(raw)?;
    // SAFETY: `raw` is a fresh fd that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    if fwmark > 0 {
        set(&fd, libc::SOL_SOCKET, libc::SO_MARK, fwmark as libc::c_int)?;
    }
    set(&fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1)?;
    set(
        &fd,
        libc::IPPROTO_TCP,
        libc::TCP_KEEPIDLE,
        KEEPALIVE_IDLE_SECS,
    )?;
    set(
        &fd,
        libc::IPPROTO_TCP,
        libc::TCP_KEEPINTVL,
        KEEPALIVE_INTERVAL_SECS,
    )?;
    set(&fd, libc::IPPROTO_TCP, libc::TCP_KEEPCNT, KEEPALIVE_PROBES)?;
    set(&fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, 1)?;
    start_connect(&fd, addr)?;
    Ok(mio::net::TcpStream::from_std(std::net::TcpStream::from(fd)))
}

fn start_connect(fd: &OwnedFd, addr: SocketAddr) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let rc = match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: a valid sockaddr_in and its exact size.
            unsafe {
                libc::connect(
                    fd.as_raw_fd(),
                    &sin as *const _ as *const libc::sockaddr,
                    std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                )
            }
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: a valid sockaddr_in6 and its exact size.
            unsafe {
                libc::connect(
                    fd.as_raw_fd(),
                    &sin6 as *const _ as *const libc::sockaddr,
                    std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
                )
            }
        }
    };
    match check(rc) {
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => Ok(()),
        other => other,
    }
}

/// After the socket turned writable: `Ok` when connected, else why not.
pub fn finish_connect(sock: &mio::net::TcpStream) -> io::Result<()> {
    if let Some(e) = sock.take_error()? {
        return Err(e);
    }
    sock.peer_addr().map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn connects_to_a_listener_and_reports_a_refusal() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let sock = connect(addr, 0).expect("connect");
        let deadline = Instant::now() + Duration::from_secs(5);
        while finish_connect(&sock).is_err() {
            assert!(Instant::now() < deadline, "never connected");
            std::thread::sleep(Duration::from_millis(5));
        }
        drop(listener);
        let refused = connect(addr, 0).expect("socket");
        std::thread::sleep(Duration::from_millis(50));
        assert!(finish_connect(&refused).is_err());
    }
}
