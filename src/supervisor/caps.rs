//! Keeping CAP_NET_ADMIN (which only the tunnel needs) away from the service.
//!
//! When root execs a program its new permitted set is (inheritable | bounding) | ambient, so
//! dropping the capability from the bounding, inheritable and ambient sets in the child before
//! exec is enough; the parent keeps it for the tunnel. The child-side function is
//! async-signal-safe (raw syscalls, no allocation).

use std::io;

pub const CAP_NET_ADMIN: u32 = 12;
pub const CAP_SETPCAP: u32 = 8;

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

fn errno_result(rc: libc::c_long) -> io::Result<libc::c_long> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

fn prctl(op: libc::c_int, a: libc::c_ulong, b: libc::c_ulong) -> io::Result<libc::c_long> {
    // SAFETY: the prctl operations used here take integer arguments only.
    errno_result(unsafe {
        libc::syscall(
            libc::SYS_prctl,
            op,
            a,
            b,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    })
}

/// Whether `cap` is in this process's bounding set.
pub fn in_bounding(cap: u32) -> bool {
    prctl(libc::PR_CAPBSET_READ, cap as libc::c_ulong, 0)
        .map(|r| r == 1)
        .unwrap_or(false)
}

/// Whether `cap` is in this thread's effective set.
pub fn effective(cap: u32) -> bool {
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: header and a two-element data array, as capget's version 3 expects.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_capget,
            &mut header as *mut CapHeader,
            data.as_mut_ptr(),
        )
    };
    rc == 0 && data[(cap / 32) as usize].effective & (1 << (cap % 32)) != 0
}

/// Whether the child will be able to drop `cap` from its bounding set.
pub fn can_drop(cap: u32) -> bool {
    !in_bounding(cap) || effective(CAP_SETPCAP)
}

/// In the child, between fork and exec: removes `cap` from the bounding, inheritable and ambient
/// sets.
pub fn drop_for_exec(cap: u32) -> io::Result<()> {
    if prctl(libc::PR_CAPBSET_READ, cap as libc::c_ulong, 0)? == 1 {
        prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0)?;
    }
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: as in `effective`.
    errno_result(unsafe {
        libc::syscall(
            libc::SYS_capget,
            &mut header as *mut CapHeader,
            data.as_mut_ptr(),
        )
    })?;
    data[(cap / 32) as usize].inheritable &= !(1 << (cap % 32));
    // SAFETY: the same header and data, now with the bit cleared; lowering is always allowed.
    errno_result(unsafe {
        libc::syscall(
            libc::SYS_capset,
            &mut header as *mut CapHeader,
            data.as_ptr(),
        )
    })?;
    // Kernels without ambient capabilities (before 4.3) say EINVAL: then there is nothing to lower.
    match prctl(
        libc::PR_CAP_AMBIENT,
        libc::PR_CAP_AMBIENT_LOWER as libc::c_ulong,
        cap as libc::c_ulong,
    ) {
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Ok(()),
        other => other.map(|_| ()),
    }
}
