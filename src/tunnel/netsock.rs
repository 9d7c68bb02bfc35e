//! The NETLINK_ROUTE socket under `netcfg` (thin I/O): send one request, then read its ACK or
//! the messages of its dump. What to send and what the answers mean is `netlink`'s job.
//!
//! The socket works in the network namespace of the thread that opens it, so a test can run
//! `netcfg` inside a namespace from a thread that joined it.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use super::netlink::{self, DecodeError, Message, NLMSG_DONE, NLMSG_ERROR};

/// The kernel answers rtnetlink at once; a silent socket means something is badly wrong, and
/// the tunnel thread must not hang on it forever.
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);
/// Larger than any dump datagram the kernel builds (it uses at most 32 KiB per datagram).
const RECV_BUFFER_BYTES: usize = 64 * 1024;
const SOL_NETLINK: libc::c_int = 270;
const NETLINK_CAP_ACK: libc::c_int = 10;
const NETLINK_EXT_ACK: libc::c_int = 11;

/// Why a request failed, before `netcfg` names the request.
#[derive(Debug)]
pub enum Failure {
    Io(io::Error),
    /// The kernel's errno (positive) and its extended message, if any.
    Refused(i32, Option<String>),
    Malformed(DecodeError),
}

pub struct Socket {
    fd: OwnedFd,
    seq: u32,
    buf: Vec<u8>,
}

impl Socket {
    pub fn open() -> io::Result<Socket> {
        let fd = netlink_socket()?;
        set_timeout(&fd, REPLY_TIMEOUT)?;
        // Best effort: short ACKs and the kernel's own explanation; older kernels lack them.
        let _ = set_flag(&fd, NETLINK_CAP_ACK);
        let _ = set_flag(&fd, NETLINK_EXT_ACK);
        Ok(Socket {
            fd,
            seq: 0,
            buf: vec![0; RECV_BUFFER_BYTES],
        })
    }

    /// Sends the request `build(seq)` and waits for the kernel's ACK.
    pub fn request(&mut self, build: impl FnOnce(u32) -> Vec<u8>) -> Result<(), Failure> {
        let mut acked = false;
        self.exchange(build, |m| {
            if m.kind == NLMSG_ERROR {
                acked = true;
            }
        })?;
        match acked {
            true => Ok(()),
            false => Err(Failure::Io(io::Error::other("no acknowledgement"))),
        }
    }

    /// Sends the dump request `build(seq)` and hands every message of the answer to `each`.
    pub fn dump(
        &mut self,
        build: impl FnOnce(u32) -> Vec<u8>,
        each: impl FnMut(&Message),
    ) -> Result<(), Failure> {
        self.exchange(build, each)
    }

    /// One request and its answer, up to the ACK, an error or NLMSG_DONE.
    fn exchange(
        &mut self,
        build: impl FnOnce(u32) -> Vec<u8>,
        mut each: impl FnMut(&Message),
    ) -> Result<(), Failure> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        send(&self.fd, &build(seq)).map_err(Failure::Io)?;
        loop {
            let n = recv(&self.fd, &mut self.buf).map_err(Failure::Io)?;
            for msg in netlink::messages(&self.buf[..n]) {
                let msg = msg.map_err(Failure::Malformed)?;
                if msg.seq != seq {
                    continue; // a late answer to an earlier request that timed out
                }
                match msg.kind {
                    NLMSG_ERROR => {
                        let (errno, text) =
                            netlink::error_code(&msg).map_err(Failure::Malformed)?;
                        if errno != 0 {
                            return Err(Failure::Refused(errno, text));
                        }
                        each(&msg);
                        return Ok(());
                    }
                    NLMSG_DONE => return Ok(()),
                    _ => each(&msg),
                }
            }
        }
    }
}

fn netlink_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2) call; the result is checked before it is owned.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn set_timeout(fd: &OwnedFd, timeout: Duration) -> io::Result<()> {
    let tv = libc::timeval {
        tv_sec: timeout.as_secs() as _,
        tv_usec: timeout.subsec_micros() as _,
    };
    setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVTIMEO, &tv)
}

fn set_flag(fd: &OwnedFd, option: libc::c_int) -> io::Result<()> {
    setsockopt(fd, SOL_NETLINK, option, &1 as &libc::c_int)
}

fn setsockopt<T>(fd: &OwnedFd, level: libc::c_int, name: libc::c_int, v: &T) -> io::Result<()> {
    let len = std::mem::size_of::<T>() as libc::socklen_t;
    // SAFETY: `v` points to a live `T` of `len` bytes for the duration of the call.
    let r = unsafe { libc::setsockopt(fd.as_raw_fd(), level, name, (v as *const T).cast(), len) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// An unconnected netlink socket sends to the kernel (port id 0).
fn send(fd: &OwnedFd, msg: &[u8]) -> io::Result<()> {
    // SAFETY: the pointer and length describe `msg`, which outlives the call.
    let n = unsafe { libc::send(fd.as_raw_fd(), msg.as_ptr().cast(), msg.len(), 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// One datagram; MSG_TRUNC makes a datagram larger than `buf` an error instead of a silent cut.
fn recv(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        // SAFETY: the pointer and length describe `buf`, which outlives the call.
        let n = unsafe {
            libc::recv(
                fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_TRUNC,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            if e.kind() == io::ErrorKind::WouldBlock {
                let why = format!("no answer within {REPLY_TIMEOUT:?}");
                return Err(io::Error::new(io::ErrorKind::TimedOut, why));
            }
            return Err(e);
        }
        let n = n as usize;
        if n > buf.len() {
            return Err(io::Error::other(format!("answer of {n} bytes truncated")));
        }
        return Ok(n);
    }
}
