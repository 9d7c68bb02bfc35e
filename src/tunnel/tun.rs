//! The tun device: open the clone device, attach a layer-3 interface (IFF_TUN | IFF_NO_PI |
//! IFF_VNET_HDR: every read and write is one IP packet behind a `virtio_net_hdr`), ask for
//! checksum and TCP/IPv6 segmentation offload, and read and write on the non-blocking descriptor.
//!
//! With the offload the kernel hands over TCP super-packets of up to 64 KiB in one read and takes
//! them back in one write; `offload` cuts and joins them, so the wire still carries ordinary
//! packets of at most the MTU.
//!
//! Addresses, MTU and routes are `netcfg`'s job. The interface lives as long as some descriptor
//! for it is open: `try_clone` lets the supervisor keep one while the tunnel thread uses another,
//! so the service's sockets bound to the ENF address survive a restarted tunnel thread.

use super::offload::{self, VnetHdr, PLAIN, VNET_HDR_BYTES};
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// IFNAMSIZ less the terminating NUL.
pub const MAX_NAME_BYTES: usize = 15;
const IFNAMSIZ: usize = 16;
const DEVICE_FIX: &str = "run the container with --device /dev/net/tun";
/// Checksums and TCP/IPv6 segmentation are left to us (IPv4 and UDP the kernel still cuts
/// itself: `offload` only handles TCP/IPv6 super-packets).
const OFFLOAD: libc::c_uint = libc::TUN_F_CSUM | libc::TUN_F_TSO6;

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
            flags: (libc::IFF_TUN | libc::IFF_NO_PI | libc::IFF_VNET_HDR) as libc::c_short,
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
        // Without it (an old kernel) every read is still one plain packet behind a header that
        // asks nothing: slower, not wrong.
        if let Err(e) = set_offload(&file, OFFLOAD) {
            log::debug!("{name}: no segmentation offload ({e}); one packet per read");
        }
        Ok(Tun { file, name })
    }

    /// Asks the kernel for plain packets only: no super-packets to cut, no checksums to finish,
    /// one packet per read (the reference C client's view of the device; the bench's baseline).
    pub fn without_offload(&self) -> io::Result<()> {
        set_offload(&self.file, 0)
    }

    /// The interface's name as the kernel knows it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// One read as the kernel gives it: the virtio header, then a packet of up to 64 KiB
    /// (`offload::READ_BUF_BYTES` holds any); `WouldBlock` when none is waiting.
    /// `offload::prepare` makes packets of it. This is the tunnel's read.
    pub fn read_vnet(&self, buf: &mut [u8]) -> io::Result<usize> {
        (&self.file).read(buf)
    }

    /// One bare packet into `buf` (the header read aside, a checksum left to us finished), for
    /// callers that want packets one at a time; `WouldBlock` when none is waiting. A TCP
    /// super-packet is refused with `InvalidData` (it would not be one packet).
    pub fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        let mut hdr = [0u8; VNET_HDR_BYTES];
        let n =
            (&self.file).read_vectored(&mut [IoSliceMut::new(&mut hdr), IoSliceMut::new(buf)])?;
        let n = n.saturating_sub(VNET_HDR_BYTES).min(buf.len());
        let hdr = VnetHdr::decode(&hdr).unwrap_or_default();
        if hdr.gso_type != offload::GSO_NONE {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "a segmentation-offload super-packet (use read_vnet)",
            ));
        }
        if hdr.flags & offload::F_NEEDS_CSUM != 0 {
            offload::finish_checksum(&mut buf[..n], hdr.csum_start.into(), hdr.csum_offset.into())
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        }
        Ok(n)
    }

    /// One packet behind `hdr` (`offload::PLAIN` for an ordinary one) in one writev.
    pub fn write_vnet(&self, hdr: &[u8; VNET_HDR_BYTES], packet: &[u8]) -> io::Result<usize> {
        (&self.file).write_vectored(&[IoSlice::new(hdr), IoSlice::new(packet)])
    }

    /// One whole, checksummed packet to the kernel; `WouldBlock` passes through.
    /// Returns the packet's bytes written (the header not counted).
    pub fn write(&self, packet: &[u8]) -> io::Result<usize> {
        let n = self.write_vnet(&PLAIN, packet)?;
        Ok(n.saturating_sub(VNET_HDR_BYTES))
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

fn set_offload(file: &File, flags: libc::c_uint) -> io::Result<()> {
    // SAFETY: TUNSETOFFLOAD takes its flags by value.
    let r = unsafe {
        libc::ioctl(
            file.as_raw_fd(),
            libc::TUNSETOFFLOAD,
            flags as libc::c_ulong,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
#[path = "tun_tests.rs"]
mod tests;
