//! Tests for `allocator`: classes, reuse, realloc within and across classes, threads.

use super::*;

fn layout(size: usize) -> Layout {
    Layout::from_size_align(size, 8).unwrap()
}

#[test]
fn classes_cover_2_to_128_kib_and_nothing_else() {
    assert_eq!(class_of(layout(1024)), None);
    assert_eq!(class_of(layout(1025)), Some(0));
    assert_eq!(class_of(layout(2048)), Some(0));
    assert_eq!(class_of(layout(2049)), Some(1));
    // A TLS record's buffer: 16 KiB of plaintext plus header, tag and type.
    assert_eq!(
        class_bytes(class_of(layout(16 * 1024 + 22)).unwrap()),
        32 * 1024
    );
    assert_eq!(class_of(layout(128 * 1024)), Some(CLASSES - 1));
    assert_eq!(class_of(layout(128 * 1024 + 1)), None);
    assert_eq!(
        class_of(Layout::from_size_align(4096, 4096).unwrap()),
        None,
        "over-aligned requests are the system's"
    );
    for c in 0..CLASSES {
        assert!(class_slots(c) >= 2 && class_slots(c) <= SLOTS);
        assert_eq!(class_slots(c) * class_bytes(c), CACHE_BYTES_PER_CLASS);
    }
}

#[test]
fn a_freed_block_is_handed_out_again_and_the_cache_is_bounded() {
    let cache = Cache::new();
    unsafe {
        let l = layout(16 * 1024 + 22);
        let p = cache.alloc(l);
        assert!(!p.is_null());
        std::ptr::write_bytes(p, 0xab, l.size());
        cache.dealloc(p, l);
        assert_eq!(cache.alloc(l), p, "the cached block comes back");
        // Zeroed requests get zeros even from a used block.
        cache.dealloc(p, l);
        let z = cache.alloc_zeroed(l);
        assert_eq!(z, p);
        assert!(std::slice::from_raw_parts(z, l.size())
            .iter()
            .all(|&b| b == 0));
        cache.dealloc(z, l);
        // Many blocks freed: only the class's share is kept.
        let blocks: Vec<*mut u8> = (0..100).map(|_| cache.alloc(l)).collect();
        for &b in &blocks {
            cache.dealloc(b, l);
        }
        let class = class_of(l).unwrap();
        cache.try_with(|f| assert_eq!(f.counts[class], class_slots(class)));
    }
}

#[test]
fn realloc_keeps_the_block_within_a_class_and_the_bytes_across_classes() {
    let cache = Cache::new();
    unsafe {
        let l = layout(3000);
        let p = cache.alloc(l);
        for i in 0..3000 {
            *p.add(i) = i as u8;
        }
        // 3000 and 4096 are both in the 4 KiB class.
        assert_eq!(cache.realloc(p, l, 4096), p);
        // Up into another class, then beyond the classes, then back down: bytes kept.
        let q = cache.realloc(p, layout(4096), 40_000);
        let r = cache.realloc(q, layout(40_000), 300_000);
        let s = cache.realloc(r, layout(300_000), 2000);
        for i in 0..2000 {
            assert_eq!(*s.add(i), i as u8, "byte {i}");
        }
        cache.dealloc(s, layout(2000));
    }
}

#[test]
fn threads_allocating_at_once_never_share_a_block() {
    static CACHE: Cache = Cache::new();
    let threads: Vec<_> = (0..4u8)
        .map(|t| {
            std::thread::spawn(move || unsafe {
                for round in 0..2000usize {
                    let l = layout(1500 + (round * 997) % 60_000);
                    let p = CACHE.alloc(l);
                    std::ptr::write_bytes(p, t, l.size());
                    std::thread::yield_now();
                    let s = std::slice::from_raw_parts(p, l.size());
                    assert!(s.iter().all(|&b| b == t), "thread {t} round {round}");
                    CACHE.dealloc(p, l);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}
