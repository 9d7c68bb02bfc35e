//! The tun device: open the clone device, attach a layer-3 interface (IFF_TUN | IFF_NO_PI, so
//! every read and write is one bare IP packet), and read and write packets on the
//! non-blocking descriptor.
//!
//! Addresses, MTU and routes are `netcfg`'s job. The interface lives as long as some descriptor
//! for it is open: `try_clone` lets the supervisor keep one while the tunnel thread uses another,
//! so the service's sockets bound to the ENF address survive a restarted tunnel thread.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// IFNAMSIZ less the terminating NUL.
pub const MAX_NAME_BYTES: usize = 15;
const IFNAMSIZ: usize = 16;
const DEVICE_FIX: &str = "run the container with --device /dev/net/tun";

#[derive(Debug)]
pub enum Error {
    /// The name cannot be an interface name.
    BadName {
        name: String,
        reason: String,
    },
    /// The clone device is missing, or is not one: `why` says which.
    NoDevice {
        path: PathBuf,
        why: &'static str,
    },
    /// The clone device exists but may not be opened (container device rules, permissions).
    Open {
        path: PathBuf,
        source: io::Error,
    },
    /// TUNSETIFF refused for lack of CAP_NET_ADMIN.
    NeedsNetAdmin {
        name: String,
    },
    /// Another descriptor is attached to the interface already.
    Busy {
        name: String,
    },
    /// An interface of that name exists and is not a tun device.
    NotTun {
        name: String,
    },
    SetIff {
        name: String,
        source: io::Error,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::BadName { name, reason } => write!(f, "tun device name {name:?} {reason}"),
            Error::NoDevice { path, why } => {
                write!(f, "opening {}: {why}; {DEVICE_FIX}", path.display())
            }
            Error::Open { path, source } => {
                write!(
                    f,
                    "opening {}: {}; {DEVICE_FIX}",
                    path.display(),
                    plain(source)
                )
            }
            Error::NeedsNetAdmin { name } => write!(
                f,
                "creating tun device {name} needs CAP_NET_ADMIN (--cap-add=NET_ADMIN)"
            ),
            Error::Busy { name } => write!(
                f,
                "creating tun device {name}: device busy; another process (enftun, another \
                 enf-init?) has it open"
            ),
            Error::NotTun { name } => write!(
                f,
                "creating tun device {name}: an interface of that name exists and is not a tun \
                 device; choose another tun.dev"
            ),
            Error::SetIff { name, source } => {
                write!(f, "creating tun device {name}: {}", plain(source))
            }
        }
    }
}

impl std::error::Error for Error {}

/// The OS's words for an error, without Rust's " (os error N)" suffix.
fn plain(e: &io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// An open tun interface. Dropping the last descriptor removes the interface.
#[derive(Debug)]
pub struct Tun {
    file: File,
    name: String,
}

impl Tun {
    /// Opens `dev_node` (normally /dev/net/tun) and attaches the interface `name`, creating it
    /// if needed. The kernel's name is returned by `name()` (it differs only for "tun%d").
    pub fn open(dev_node: &Path, name: &str) -> Result<Tun, Error> {
        check_name(name)?;
        let no_device = |why| Error::NoDevice {
            path: dev_node.to_path_buf(),
            why,
        };
        match std::fs::metadata(dev_node) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(no_device("no such device"))
            }
            Ok(m) if !m.file_type().is_char_device() => {
                return Err(no_device("not a character device"))
            }
            _ => {}
        }
        // std adds O_CLOEXEC itself.
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(dev_node)
            .map_err(|source| match source.raw_os_error() {
                // A device node without a driver behind it (no tun module on the host).
                Some(libc::ENODEV | libc::ENXIO | libc::ENOENT) => no_device("no such device"),
                _ => Error::Open {
                    path: dev_node.to_path_buf(),
                    source,
                },
            })?;
        let mut req = IfReq {
            flags: (libc::IFF_TUN | libc::IFF_NO_PI) as libc::c_short,
            ..IfReq::default()
        };
        req.name[..name.len()].copy_from_slice(name.as_bytes());
        set_iff(&file, &mut req).map_err(|source| {
            let name = name.to_string();
            match source.raw_os_error() {
                Some(libc::EPERM | libc::EACCES) => Error::NeedsNetAdmin { name },
                Some(libc::EBUSY) => Error::Busy { name },
                Some(libc::EINVAL) => Error::NotTun { name },
                _ => Error::SetIff { name, source },
            }
        })?;
        let len = req.name.iter().position(|&b| b == 0).unwrap_or(IFNAMSIZ);
        let name = String::from_utf8_lossy(&req.name[..len]).into_owned();
        Ok(Tun { file, name })
    }

    /// The interface's name as the kernel knows it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// One packet into `buf`; `WouldBlock` when none is waiting. A packet larger than `buf` is
    /// cut short by the kernel, so `buf` should hold the MTU.
    pub fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        (&self.file).read(buf)
    }

    /// One whole packet to the kernel; `WouldBlock` passes through.
    pub fn write(&self, packet: &[u8]) -> io::Result<usize> {
        (&self.file).write(packet)
    }

    /// A second descriptor for the same interface (close-on-exec, non-blocking like the first).
    pub fn try_clone(&self) -> io::Result<Tun> {
        Ok(Tun {
            file: self.file.try_clone()?,
            name: self.name.clone(),
        })
    }
}

impl AsRawFd for Tun {
    fn as_raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }
}

impl AsFd for Tun {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

/// The rules of the kernel's `dev_valid_name`, checked here so the message can say which.
pub fn check_name(name: &str) -> Result<(), Error> {
    let bad = |reason: String| {
        Err(Error::BadName {
            name: name.to_string(),
            reason,
        })
    };
    if name.is_empty() || name == "." || name == ".." {
        return bad("is not a valid interface name".to_string());
    }
    if name.len() > MAX_NAME_BYTES {
        return bad(format!(
            "is {} bytes long; interface names are at most {MAX_NAME_BYTES} bytes",
            name.len()
        ));
    }
    if name.contains(|c: char| c == '/' || c == ':' || c == '\0' || c.is_whitespace()) {
        return bad("may not contain '/', ':', NUL or white space".to_string());
    }
    Ok(())
}

/// `struct ifreq` as TUNSETIFF reads it: the name, then the flags in the union. Sized for the
/// largest union member (struct ifmap on 64-bit), so the kernel never reads past it.
#[repr(C)]
#[derive(Default)]
struct IfReq {
    name: [u8; IFNAMSIZ],
    flags: libc::c_short,
    _union_rest: [u8; 22],
}

const _: () = assert!(std::mem::size_of::<IfReq>() >= std::mem::size_of::<libc::ifreq>());

fn set_iff(file: &File, req: &mut IfReq) -> io::Result<()> {
    // SAFETY: `req` is a live, writable ifreq-sized buffer, as TUNSETIFF expects.
    let r = unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETIFF, req as *mut IfReq) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
#[path = "tun_tests.rs"]
mod tests;
