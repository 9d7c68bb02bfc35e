//! The signal syscalls, made directly so that all 64 signals work under glibc and musl alike.
//!
//! glibc's `sigprocmask` silently drops 32 and 33 from a mask and musl's `sigaddset` refuses
//! 32..=34, so the mask and signalfd calls go straight to the kernel with an 8-byte mask. The
//! functions used between fork and exec (`set_mask`, `reset_dispositions`) are async-signal-safe:
//! no allocation, no locks, raw syscalls only.

use super::Mask;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// The kernel's sigset size in bytes (64 signals).
const KERNEL_SIGSET_BYTES: usize = 8;

/// Sets this thread's blocked mask (`SIG_SETMASK`); returns the previous one.
pub fn set_mask(mask: Mask) -> io::Result<Mask> {
    let mut old: Mask = 0;
    // SAFETY: both pointers refer to live 8-byte masks and the size says 8 bytes.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK,
            &mask as *const Mask,
            &mut old as *mut Mask,
            KERNEL_SIGSET_BYTES,
        )
    };
    if rc == 0 {
        Ok(old)
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The kernel's `struct sigaction` on x86_64 and aarch64 (handler, flags, restorer, mask).
#[repr(C)]
struct KernelSigaction {
    handler: usize,
    flags: u64,
    restorer: usize,
    mask: Mask,
}

/// Restores the default disposition of every signal, so that what the parent (or Rust's runtime,
/// which ignores SIGPIPE) set to "ignore" does not survive into the exec'd program.
pub fn reset_dispositions() {
    let default = KernelSigaction {
        handler: libc::SIG_DFL,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    for sig in 1..=super::MAX {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: `default` is a valid kernel sigaction for SIG_DFL; no old action is read.
        unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                &default as *const KernelSigaction,
                std::ptr::null_mut::<KernelSigaction>(),
                KERNEL_SIGSET_BYTES,
            );
        }
    }
}

/// A non-blocking, close-on-exec signalfd for `mask` (the signals must be blocked too).
pub fn signalfd(mask: Mask) -> io::Result<OwnedFd> {
    // SAFETY: -1 asks for a new fd; the mask pointer and size describe a live 8-byte mask.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_signalfd4,
            -1,
            &mask as *const Mask,
            KERNEL_SIGSET_BYTES,
            libc::SFD_NONBLOCK | libc::SFD_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this fd to us and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// One pending signal from a signalfd: its number and the sender's pid (0 for the kernel).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    pub signo: i32,
    pub sender: i32,
}

/// Reads the next signal, or `None` when none is pending.
pub fn read_signalfd(fd: RawFd) -> io::Result<Option<Received>> {
    // SAFETY: signalfd_siginfo is plain old data; all-zero is a valid value.
    let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::signalfd_siginfo>();
    loop {
        // SAFETY: `info` is a writable buffer of exactly `size` bytes.
        let n = unsafe { libc::read(fd, &mut info as *mut _ as *mut libc::c_void, size) };
        if n == size as isize {
            return Ok(Some(Received {
                signo: info.ssi_signo as i32,
                sender: info.ssi_pid as i32,
            }));
        }
        let err = io::Error::last_os_error();
        match err.kind() {
            io::ErrorKind::Interrupted => continue,
            io::ErrorKind::WouldBlock => return Ok(None),
            _ if n >= 0 => return Err(io::Error::other("short read from signalfd")),
            _ => return Err(err),
        }
    }
}

/// Sends `sig` to `pid` (a negative pid addresses a process group), by raw number.
pub fn kill(pid: i32, sig: i32) -> io::Result<()> {
    // SAFETY: kill has no memory-safety preconditions.
    if unsafe { libc::kill(pid, sig) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `f` in a fresh thread so the mask change cannot leak into other tests.
    fn in_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::spawn(f).join().expect("test thread")
    }

    #[test]
    fn a_full_mask_really_blocks_32_to_34_and_is_read_back() {
        let seen = in_thread(|| {
            set_mask(crate::signals::ALL).expect("block");
            set_mask(0).expect("unblock")
        });
        for sig in [32, 33, 34, 35, 64, libc::SIGTERM] {
            assert_ne!(
                seen & crate::signals::bit(sig),
                0,
                "signal {sig} not blocked"
            );
        }
    }

    #[test]
    fn signalfd_delivers_a_real_time_signal_sent_to_this_thread() {
        let got = in_thread(|| {
            let sig = 40;
            set_mask(crate::signals::bit(sig)).expect("block");
            let fd = signalfd(crate::signals::bit(sig)).expect("signalfd");
            // SAFETY: tgkill to our own thread id with a blocked signal just queues it.
            unsafe {
                libc::syscall(libc::SYS_tgkill, libc::getpid(), libc::gettid(), sig);
            }
            use std::os::fd::AsRawFd;
            let first = read_signalfd(fd.as_raw_fd()).expect("read");
            let second = read_signalfd(fd.as_raw_fd()).expect("read");
            set_mask(0).expect("unblock");
            (first, second)
        });
        assert_eq!(got.0.map(|r| r.signo), Some(40));
        assert_eq!(got.1, None);
    }
}
