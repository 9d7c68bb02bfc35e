//! The global allocator: the system's, with a small cache of freed blocks between 2 and 128 KiB.
//!
//! Why: the static build links musl, whose allocator (mallocng) maps a fresh group for such
//! blocks and unmaps it as soon as it is free again. rustls allocates one buffer per 16 KiB TLS
//! record, so every record cost an mmap, a munmap and four page faults with the kernel zeroing
//! each page: one pair of syscalls per socket write under load (seen with `strace -c` in
//! `make bench`). A freed block of those sizes is kept here instead and handed out again.
//!
//! Blocks are grouped in power-of-two classes and always allocated at their class's full size,
//! so any block of a class serves any request of that class, and a `Vec` growing within its
//! class keeps its block. Each class keeps at most `CACHE_BYTES_PER_CLASS` bytes; the rest goes
//! back to the system. The cache is behind one lock that is only ever tried, never waited for:
//! when another thread holds it, the call goes straight to the system allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, Ordering};

/// The smallest class: below it musl's allocator reuses memory well on its own.
const MIN_CLASS_SHIFT: u32 = 11;
/// The largest class (128 KiB); larger blocks are the system's business (mremap grows them).
const MAX_CLASS_SHIFT: u32 = 17;
const CLASSES: usize = (MAX_CLASS_SHIFT - MIN_CLASS_SHIFT + 1) as usize;
/// What each class may keep: enough for the records in flight on a busy session, little idle.
const CACHE_BYTES_PER_CLASS: usize = 256 * 1024;
/// Slots per class: the smallest class's share of `CACHE_BYTES_PER_CLASS`.
const SLOTS: usize = CACHE_BYTES_PER_CLASS >> MIN_CLASS_SHIFT;
/// The alignment every system block has (musl and glibc: 16 bytes on 64-bit targets).
const SYSTEM_ALIGN: usize = 16;

/// The class of a request, if it is one this cache handles.
fn class_of(layout: Layout) -> Option<usize> {
    if layout.align() > SYSTEM_ALIGN
        || layout.size() <= 1 << (MIN_CLASS_SHIFT - 1)
        || layout.size() > 1 << MAX_CLASS_SHIFT
    {
        return None;
    }
    let shift = usize::BITS - (layout.size() - 1).leading_zeros();
    Some(shift.max(MIN_CLASS_SHIFT) as usize - MIN_CLASS_SHIFT as usize)
}

fn class_bytes(class: usize) -> usize {
    1 << (class + MIN_CLASS_SHIFT as usize)
}

/// How many blocks `class` may keep.
fn class_slots(class: usize) -> usize {
    (CACHE_BYTES_PER_CLASS / class_bytes(class)).max(1)
}

fn class_layout(class: usize) -> Layout {
    // Cannot fail: a power of two below isize::MAX with a power-of-two alignment.
    Layout::from_size_align(class_bytes(class), SYSTEM_ALIGN).unwrap_or(Layout::new::<u8>())
}

struct Free {
    blocks: [[*mut u8; SLOTS]; CLASSES],
    counts: [usize; CLASSES],
}

pub struct Cache {
    busy: AtomicBool,
    free: UnsafeCell<Free>,
}

// SAFETY: `free` is only touched by the thread that won `busy`.
unsafe impl Sync for Cache {}

impl Cache {
    pub const fn new() -> Cache {
        Cache {
            busy: AtomicBool::new(false),
            free: UnsafeCell::new(Free {
                blocks: [[std::ptr::null_mut(); SLOTS]; CLASSES],
                counts: [0; CLASSES],
            }),
        }
    }

    /// Runs `f` on the free lists if no other thread is at them; `None` otherwise.
    fn try_with<R>(&self, f: impl FnOnce(&mut Free) -> R) -> Option<R> {
        if self
            .busy
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return None;
        }
        // SAFETY: this thread won `busy`; nobody else touches `free` until it is released.
        let r = f(unsafe { &mut *self.free.get() });
        self.busy.store(false, Ordering::Release);
        Some(r)
    }

    /// A cached block of `class`, if there is one (and the lock was free).
    fn pop(&self, class: usize) -> Option<*mut u8> {
        self.try_with(|f| {
            let n = f.counts[class];
            if n == 0 {
                return None;
            }
            f.counts[class] = n - 1;
            Some(f.blocks[class][n - 1])
        })
        .flatten()
    }

    /// A block of `class`, from the cache or the system.
    unsafe fn take(&self, class: usize) -> *mut u8 {
        self.pop(class)
            .unwrap_or_else(|| System.alloc(class_layout(class)))
    }

    /// Keeps a block of `class`, or gives it back to the system when the class is full.
    unsafe fn give(&self, class: usize, p: *mut u8) {
        let kept = self.try_with(|f| {
            let n = f.counts[class];
            if n >= class_slots(class) {
                return false;
            }
            f.blocks[class][n] = p;
            f.counts[class] = n + 1;
            true
        });
        if kept != Some(true) {
            System.dealloc(p, class_layout(class));
        }
    }
}

impl Default for Cache {
    fn default() -> Cache {
        Cache::new()
    }
}

// SAFETY: every block handed out is at least `layout.size()` bytes with at least
// `layout.align()` alignment (class blocks are the class's size at the system's alignment, and
// only requests of alignment ≤ 16 are classed); a block goes back to the allocator it came from
// with the layout it was allocated with (the class's, for classed ones: a layout's class is a
// pure function of its size and alignment).
unsafe impl GlobalAlloc for Cache {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match class_of(layout) {
            Some(c) => self.take(c),
            None => System.alloc(layout),
        }
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        match class_of(layout) {
            Some(c) => self.give(c, p),
            None => System.dealloc(p, layout),
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let Some(c) = class_of(layout) else {
            return System.alloc_zeroed(layout);
        };
        // A cached block is zeroed here; a fresh one comes zeroed from the system, whose pages
        // stay untouched (and out of RSS) until used: a router session's 64 KiB frame buffer
        // must not cost 64 KiB while the session is idle.
        match self.pop(c) {
            Some(p) => {
                std::ptr::write_bytes(p, 0, layout.size());
                p
            }
            None => System.alloc_zeroed(class_layout(c)),
        }
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
        match (class_of(layout), class_of(new_layout)) {
            // Neither classed: the system may grow it in place (mremap for large blocks).
            (None, None) => System.realloc(p, layout, new_size),
            // The same class: the block already has room.
            (Some(a), Some(b)) if a == b => p,
            _ => {
                let q = self.alloc(new_layout);
                if !q.is_null() {
                    std::ptr::copy_nonoverlapping(p, q, layout.size().min(new_size));
                    self.dealloc(p, layout);
                }
                q
            }
        }
    }
}

#[cfg(test)]
#[path = "allocator_tests.rs"]
mod tests;
