//! Starting a hook or the service: a clean signal state, its own process group, the terminal,
//! capabilities, and the user, all set between fork and exec.
//!
//! Everything the child needs is computed before the fork; the `pre_exec` closure only makes raw
//! syscalls, because another thread (the tunnel) may hold a lock at the moment of the fork.

use super::caps;
use super::user::Creds;
use std::ffi::OsString;
use std::io;
use std::os::unix::process::CommandExt;
use std::process::{ChildStdout, Command, Stdio};

/// What to start and how.
#[derive(Debug, Clone, Default)]
pub struct Spec {
    pub argv: Vec<OsString>,
    pub env: Vec<(OsString, OsString)>,
    /// Give the child the terminal on stdin as its foreground process group (only when we hold
    /// it: see `owns_terminal`).
    pub foreground: bool,
    pub drop_net_admin: bool,
    pub creds: Option<Creds>,
    /// Capture stdout in a pipe (for sourced hooks) instead of inheriting it.
    pub capture_stdout: bool,
}

/// Why a start failed, mapped to the shell's codes.
#[derive(Debug)]
pub enum Error {
    NotFound,
    NotExecutable(io::Error),
    Other(io::Error),
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::NotFound => crate::exit::NOT_FOUND,
            Error::NotExecutable(_) => crate::exit::NOT_EXECUTABLE,
            Error::Other(_) => crate::exit::OS_ERROR,
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::NotFound => write!(f, "not found"),
            Error::NotExecutable(e) => write!(f, "cannot be executed: {}", plain(e)),
            Error::Other(e) => write!(f, "cannot be started: {}", plain(e)),
        }
    }
}

/// An OS error's text without Rust's " (os error N)" suffix, for one-line messages.
fn plain(e: &io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// Starts `spec`; returns the pid and, when asked for, the read end of its stdout.
pub fn spawn(spec: &Spec) -> Result<(i32, Option<ChildStdout>), Error> {
    let Some((program, args)) = spec.argv.split_first() else {
        return Err(Error::NotFound);
    };
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)));
    if spec.capture_stdout {
        cmd.stdout(Stdio::piped());
    }
    let foreground = spec.foreground;
    let drop_net_admin = spec.drop_net_admin;
    let creds = spec.creds.clone();
    // SAFETY: the closure makes only async-signal-safe raw syscalls on data prepared above.
    unsafe {
        cmd.pre_exec(move || child_setup(foreground, drop_net_admin, creds.as_ref()));
    }
    match cmd.spawn() {
        Ok(mut child) => Ok((child.id() as i32, child.stdout.take())),
        Err(e) => Err(match e.raw_os_error() {
            Some(libc::ENOENT) | Some(libc::ENOTDIR) => Error::NotFound,
            Some(libc::EACCES) | Some(libc::ENOEXEC) | Some(libc::EISDIR) | Some(libc::EPERM) => {
                Error::NotExecutable(e)
            }
            _ => Error::Other(e),
        }),
    }
}

fn check(rc: libc::c_long) -> io::Result<()> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Runs in the child between fork and exec.
fn child_setup(foreground: bool, drop_net_admin: bool, creds: Option<&Creds>) -> io::Result<()> {
    // Own process group: a terminal's Ctrl-C and a hook timeout reach the whole job, not us.
    // SAFETY: plain syscalls with integer arguments.
    unsafe {
        check(libc::setpgid(0, 0) as libc::c_long)?;
        if foreground {
            // Allowed from a background group because every signal (SIGTTOU too) is blocked.
            // A failure leaves the terminal where it was; the service still runs.
            libc::tcsetpgrp(libc::STDIN_FILENO, libc::getpid());
        }
    }
    crate::signals::sys::reset_dispositions();
    if drop_net_admin {
        caps::drop_for_exec(caps::CAP_NET_ADMIN)?;
    }
    if let Some(c) = creds {
        // Raw syscalls: in the single-threaded child they change the whole process, and libc's
        // wrappers would try to synchronise threads that no longer exist.
        // SAFETY: the groups pointer and length describe a live Vec prepared before the fork.
        unsafe {
            check(libc::syscall(
                libc::SYS_setgroups,
                c.groups.len(),
                c.groups.as_ptr(),
            ))?;
            check(libc::syscall(libc::SYS_setgid, c.gid))?;
            check(libc::syscall(libc::SYS_setuid, c.uid))?;
        }
    }
    crate::signals::sys::set_mask(0)?;
    Ok(())
}

/// Whether stdin is a terminal whose foreground process group is ours, so we can hand it on.
pub fn owns_terminal() -> bool {
    // SAFETY: isatty, tcgetpgrp and getpgrp take and return plain integers.
    unsafe {
        libc::isatty(libc::STDIN_FILENO) == 1
            && libc::tcgetpgrp(libc::STDIN_FILENO) == libc::getpgrp()
    }
}

/// Takes the terminal back for our own process group once the service is gone, so the shell
/// that started us (when we are not PID 1) finds it as it left it.
pub fn reclaim_terminal() {
    // SAFETY: as above; SIGTTOU is blocked in this process, so the call cannot stop us.
    unsafe {
        if libc::isatty(libc::STDIN_FILENO) == 1 {
            libc::tcsetpgrp(libc::STDIN_FILENO, libc::getpgrp());
        }
    }
}
