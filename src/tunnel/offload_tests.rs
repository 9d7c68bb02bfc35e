//! Tests for the tun offload: checksums against hand-computed values and a plain reference sum,
//! segmentation of super-packets, coalescing (in order, out of order, mixed flows, non-TCP,
//! extension headers, bad checksums), and the round trip coalesce → kernel-style finish → split.

use super::*;

/// RFC 1071's reference: 16-bit big-endian words, end-around carry, one at a time.
fn ref_sum(data: &[u8]) -> u32 {
    let mut s: u32 = 0;
    for pair in data.chunks(2) {
        let w = if pair.len() == 2 {
            (pair[0] as u32) << 8 | pair[1] as u32
        } else {
            (pair[0] as u32) << 8
        };
        s += w;
        s = (s & 0xffff) + (s >> 16);
    }
    s
}

/// The TCP checksum of an IPv6 packet, computed the slow way over a built pseudo-header.
fn ref_tcp6_csum(p: &[u8]) -> u16 {
    let mut buf = Vec::new();
    buf.extend_from_slice(&p[8..40]);
    buf.extend_from_slice(&((p.len() - 40) as u32).to_be_bytes());
    buf.extend_from_slice(&[0, 0, 0, 6]);
    let mut seg = p[40..].to_vec();
    seg[16] = 0;
    seg[17] = 0;
    buf.extend_from_slice(&seg);
    !(ref_sum(&buf) as u16)
}

fn addr(last: u8) -> [u8; 16] {
    let mut a = [0u8; 16];
    a[0] = 0xfd;
    a[15] = last;
    a
}

/// A TCP/IPv6 packet with a correct checksum.
#[allow(clippy::too_many_arguments)]
fn tcp6(
    src: u8,
    dst: u8,
    ports: (u16, u16),
    seq: u32,
    ack: u32,
    flags: u8,
    opts: &[u8],
    payload: &[u8],
) -> Vec<u8> {
    assert_eq!(opts.len() % 4, 0);
    let tcp_len = 20 + opts.len();
    let mut p = vec![0u8; 40 + tcp_len];
    p[0] = 0x60;
    p[4..6].copy_from_slice(&((tcp_len + payload.len()) as u16).to_be_bytes());
    p[6] = 6;
    p[7] = 64;
    p[8..24].copy_from_slice(&addr(src));
    p[24..40].copy_from_slice(&addr(dst));
    p[40..42].copy_from_slice(&ports.0.to_be_bytes());
    p[42..44].copy_from_slice(&ports.1.to_be_bytes());
    p[44..48].copy_from_slice(&seq.to_be_bytes());
    p[48..52].copy_from_slice(&ack.to_be_bytes());
    p[52] = ((tcp_len / 4) as u8) << 4;
    p[53] = flags;
    p[54..56].copy_from_slice(&512u16.to_be_bytes());
    p[60..60 + opts.len()].copy_from_slice(opts);
    p.extend_from_slice(payload);
    let c = ref_tcp6_csum(&p);
    p[56..58].copy_from_slice(&c.to_be_bytes());
    p
}

/// A UDP/IPv6 packet with a correct checksum.
fn udp6(payload: &[u8]) -> Vec<u8> {
    let l4 = 8 + payload.len();
    let mut p = vec![0u8; 48];
    p[0] = 0x60;
    p[4..6].copy_from_slice(&(l4 as u16).to_be_bytes());
    p[6] = 17;
    p[7] = 64;
    p[8..24].copy_from_slice(&addr(1));
    p[24..40].copy_from_slice(&addr(2));
    p[40..42].copy_from_slice(&5353u16.to_be_bytes());
    p[42..44].copy_from_slice(&9u16.to_be_bytes());
    p[44..46].copy_from_slice(&(l4 as u16).to_be_bytes());
    p.extend_from_slice(payload);
    let mut buf = p[8..40].to_vec();
    buf.extend_from_slice(&(l4 as u32).to_be_bytes());
    buf.extend_from_slice(&[0, 0, 0, 17]);
    buf.extend_from_slice(&p[40..]);
    let c = !(ref_sum(&buf) as u16);
    p[46..48].copy_from_slice(&(if c == 0 { 0xffff } else { c }).to_be_bytes());
    p
}

fn data(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

const ACK: u8 = 0x10;
const PSH: u8 = 0x08;
const FIN: u8 = 0x01;
const CWR: u8 = 0x80;
/// NOP, NOP, timestamp: what Linux puts on every segment.
const TS: [u8; 12] = [1, 1, 8, 10, 0, 0, 0, 7, 0, 0, 0, 9];

#[test]
fn sums_match_rfc1071_and_a_hand_computed_tcp_checksum() {
    // RFC 1071 section 3's example: the folded sum is 0xddf2.
    let bytes = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
    assert_eq!(fold(sum(0, &bytes)), 0xddf2);
    // An odd length pads with a zero byte.
    assert_eq!(fold(sum(0, &[0xab])), 0xab00);
    assert_eq!(fold(sum(0, &[1, 2, 3])), 0x0102 + 0x0300);
    // fd00::1 → fd00::2, ports 1 → 2, ACK, window 512, payload "ab". By hand: pseudo-header
    // 0xfd00 + 0x0001 + 0xfd00 + 0x0002 + length 0x0016 + next header 0x0006; TCP header
    // 0x0001 + 0x0002 + 0x5010 + 0x0200; payload 0x6162. Total 0x2ad94 → 0xad96 folded,
    // checksum 0x5269.
    let p = tcp6(1, 2, (1, 2), 0, 0, ACK, &[], b"ab");
    assert_eq!(u16::from_be_bytes([p[56], p[57]]), 0x5269);
    assert!(tcp6_checksum_ok(&p));
    let mut bad = p.clone();
    bad[61] ^= 1;
    assert!(!tcp6_checksum_ok(&bad));
    // Every length against the reference, for the word-size bookkeeping; all-ones for the
    // carries; a seed that is already a sum.
    for n in 0..300 {
        let d = data(n, 7);
        assert_eq!(fold(sum(0, &d)) as u32, ref_sum(&d), "length {n}");
    }
    for n in [1, 7, 8, 31, 32, 33, 1500, MAX_IP_BYTES] {
        let ones = vec![0xffu8; n];
        assert_eq!(fold(sum(0, &ones)) as u32, ref_sum(&ones), "ones {n}");
        let d = data(n, 200);
        let mut both = vec![0x12, 0x34];
        both.extend_from_slice(&d);
        assert_eq!(fold(sum(0x1234, &d)) as u32, ref_sum(&both), "seeded {n}");
    }
}

#[test]
fn the_virtio_header_round_trips_in_native_order() {
    let h = VnetHdr {
        flags: F_NEEDS_CSUM,
        gso_type: GSO_TCPV6,
        hdr_len: 72,
        gso_size: 1208,
        csum_start: 40,
        csum_offset: 16,
    };
    let b = h.encode();
    assert_eq!(VnetHdr::decode(&b), Some(h));
    assert_eq!(&b[4..6], &1208u16.to_ne_bytes());
    assert_eq!(VnetHdr::decode(&b[..9]), None);
}

fn with_hdr(h: VnetHdr, p: &[u8]) -> Vec<u8> {
    let mut r = h.encode().to_vec();
    r.extend_from_slice(p);
    r
}

#[test]
fn a_plain_read_is_the_packet_and_a_short_one_an_error() {
    let p = udp6(b"hello");
    let mut r = with_hdr(VnetHdr::default(), &p);
    match prepare(&mut r, 1280) {
        Ok(Read::One(got)) => assert_eq!(got, &p[..]),
        _ => panic!("one packet expected"),
    }
    assert!(matches!(prepare(&mut [0u8; 9], 1280), Err(Error::Short)));
}

/// What the kernel hands over with CHECKSUM_PARTIAL: the pseudo-header sum in the field.
fn partial(
    p: &[u8],
    start: usize,
    offset: usize,
    proto: u8,
    addrs: std::ops::Range<usize>,
) -> Vec<u8> {
    let mut q = p.to_vec();
    let seed = fold(pseudo(&q[addrs], proto, q.len() - start));
    q[start + offset..start + offset + 2].copy_from_slice(&seed.to_be_bytes());
    q
}

#[test]
fn checksums_left_to_us_are_finished_for_tcp_udp_and_ipv4() {
    let needs = |start: u16, offset: u16| VnetHdr {
        flags: F_NEEDS_CSUM,
        csum_start: start,
        csum_offset: offset,
        ..VnetHdr::default()
    };
    let t = tcp6(1, 2, (40000, 5201), 77, 88, ACK | PSH, &TS, &data(999, 3));
    let u = udp6(&data(333, 4));
    // UDP over IPv4 with a 20-byte header: checksum from the reference sum.
    let mut v4 = vec![
        0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2,
    ];
    let body = data(101, 5);
    let l4 = 8 + body.len();
    v4[2..4].copy_from_slice(&((20 + l4) as u16).to_be_bytes());
    v4.extend_from_slice(&[0x13, 0x88, 0x00, 0x09]);
    v4.extend_from_slice(&(l4 as u16).to_be_bytes());
    v4.extend_from_slice(&[0, 0]);
    v4.extend_from_slice(&body);
    let mut ph = v4[12..20].to_vec();
    ph.extend_from_slice(&[0, 17]);
    ph.extend_from_slice(&(l4 as u16).to_be_bytes());
    ph.extend_from_slice(&v4[20..]);
    let c = !(ref_sum(&ph) as u16);
    v4[26..28].copy_from_slice(&c.to_be_bytes());

    for (whole, start, offset, proto, addrs) in [
        (&t, 40usize, 16usize, 6u8, 8..40),
        (&u, 40, 6, 17, 8..40),
        (&v4, 20, 6, 17, 12..20),
    ] {
        let mut r = with_hdr(
            needs(start as u16, offset as u16),
            &partial(whole, start, offset, proto, addrs),
        );
        match prepare(&mut r, 1280) {
            Ok(Read::One(got)) => assert_eq!(got, &whole[..], "proto {proto} from {start}"),
            _ => panic!("one packet expected"),
        }
    }
    let mut r = with_hdr(needs(40, 16), &u[..50]);
    assert!(matches!(
        prepare(&mut r, 1280),
        Err(Error::BadChecksumOffsets)
    ));
}

fn gso_read(super_pkt: &[u8], mss: u16) -> Vec<u8> {
    let tcp_len = (super_pkt[52] >> 4) as usize * 4;
    // The kernel's hdr_len is its linear length, not the headers: give a misleading one.
    let h = VnetHdr {
        flags: F_NEEDS_CSUM,
        gso_type: GSO_TCPV6,
        hdr_len: 128,
        gso_size: mss,
        csum_start: 40,
        csum_offset: 16,
    };
    let _ = tcp_len;
    with_hdr(h, &partial(super_pkt, 40, 16, 6, 8..40))
}

fn split_all(r: &mut [u8], max: usize) -> Result<Vec<Vec<u8>>, Error> {
    match prepare(r, max)? {
        Read::One(p) => Ok(vec![p.to_vec()]),
        Read::Segments(g) => Ok((0..g.count())
            .map(|i| {
                let mut b = vec![0xeeu8; g.len(i) + 5];
                g.write(i, &mut b);
                assert!(
                    b[g.len(i)..].iter().all(|&x| x == 0xee),
                    "wrote past its length"
                );
                b.truncate(g.len(i));
                b
            })
            .collect()),
    }
}

#[test]
fn a_super_packet_splits_into_the_segments_tcp_would_have_sent() {
    let payload = data(3000, 9);
    let sup = tcp6(
        1,
        2,
        (40000, 5201),
        0xffff_fc00,
        5,
        ACK | PSH | FIN | CWR,
        &TS,
        &payload,
    );
    let segs = split_all(&mut gso_read(&sup, 1208), 1280).expect("splits");
    assert_eq!(segs.len(), 3);
    let mut seq = 0xffff_fc00u32;
    for (i, s) in segs.iter().enumerate() {
        let chunk = &payload[i * 1208..((i + 1) * 1208).min(3000)];
        // The segment as TCP would have built it by hand: flags per position.
        let mut flags = ACK;
        if i == 0 {
            flags |= CWR;
        }
        if i == 2 {
            flags |= PSH | FIN;
        }
        let want = tcp6(1, 2, (40000, 5201), seq, 5, flags, &TS, chunk);
        assert_eq!(s, &want, "segment {i}");
        assert!(s.len() <= 1280);
        seq = seq.wrapping_add(chunk.len() as u32);
    }
    // Sequence numbers wrap: the second segment's is 0xffff_fc00 + 1208.
    assert_eq!(&segs[1][44..48], &0x0000_00b8u32.to_be_bytes());
}

#[test]
fn super_packets_we_cannot_cut_are_refused() {
    let sup = tcp6(1, 2, (1, 2), 0, 0, ACK, &[], &data(4000, 1));
    // Segments would not fit the frame limit.
    assert_eq!(
        split_all(&mut gso_read(&sup, 1400), 1280).err(),
        Some(Error::BadGsoPacket)
    );
    let mut zero = gso_read(&sup, 1000);
    zero[4..6].copy_from_slice(&0u16.to_ne_bytes());
    assert_eq!(split_all(&mut zero, 1280).err(), Some(Error::BadGsoPacket));
    // An extension header (hop-by-hop) before TCP.
    let mut ext = gso_read(&sup, 1000);
    ext[VNET_HDR_BYTES + 6] = 0;
    assert_eq!(split_all(&mut ext, 1280).err(), Some(Error::UnsupportedGso));
    for t in [GSO_TCPV4, GSO_UDP, GSO_UDP_L4] {
        let mut r = gso_read(&sup, 1000);
        r[1] = t;
        assert_eq!(
            split_all(&mut r, 1280).err(),
            Some(Error::UnsupportedGso),
            "type {t}"
        );
    }
}

/// Writes as (header, packet) pairs.
type Writes = Vec<(VnetHdr, Vec<u8>)>;

fn run(packets: &[Vec<u8>]) -> Writes {
    let mut c = Coalescer::default();
    let mut w: Writes = Vec::new();
    let mut out = |h: &[u8; VNET_HDR_BYTES], p: &[u8]| {
        w.push((VnetHdr::decode(h).expect("hdr"), p.to_vec()));
    };
    for p in packets {
        c.push(p, &mut out);
    }
    c.flush(&mut out);
    assert_eq!(c.held(), 0);
    w
}

/// What the kernel makes of a write: a GSO one is finished and cut again into segments.
fn kernel_view(w: &Writes) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    for (h, p) in w {
        if h.gso_type == GSO_NONE {
            assert_eq!(h.flags, 0);
            got.push(p.clone());
        } else {
            let mut r = with_hdr(*h, p);
            got.extend(split_all(&mut r, 1280).expect("kernel splits"));
        }
    }
    got
}

/// A flow's segments: `n` of `mss` then one of `last` bytes, from `seq`.
fn flow(src: u8, sport: u16, seq: u32, n: usize, mss: usize, last: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut s = seq;
    for i in 0..=n {
        let len = if i == n { last } else { mss };
        if len == 0 {
            break;
        }
        out.push(tcp6(
            src,
            2,
            (sport, 5201),
            s,
            1,
            ACK,
            &TS,
            &data(len, i as u8),
        ));
        s = s.wrapping_add(len as u32);
    }
    out
}

#[test]
fn in_order_segments_become_one_write_the_kernel_cuts_back_exactly() {
    let segs = flow(1, 40000, 1000, 10, 1208, 500);
    let w = run(&segs);
    assert_eq!(w.len(), 1);
    let (h, p) = &w[0];
    assert_eq!(h.gso_type, GSO_TCPV6);
    assert_eq!(h.flags, F_NEEDS_CSUM);
    assert_eq!(
        (h.gso_size, h.hdr_len, h.csum_start, h.csum_offset),
        (1208, 72, 40, 16)
    );
    assert_eq!(p.len(), 72 + 10 * 1208 + 500);
    assert_eq!(u16::from_be_bytes([p[4], p[5]]) as usize, p.len() - 40);
    // The field holds the pseudo-header sum, not a checksum.
    assert_eq!(
        u16::from_be_bytes([p[56], p[57]]),
        fold(pseudo(&p[8..40], 6, p.len() - 40))
    );
    assert_eq!(kernel_view(&w), segs);
}

#[test]
fn a_lone_segment_and_non_tcp_go_out_as_they_came() {
    let one = flow(1, 40000, 0, 0, 1208, 700);
    let u = udp6(b"dns?");
    let w = run(&[one[0].clone(), u.clone()]);
    assert_eq!(w.len(), 2);
    // UDP is not held; the TCP segment waits for the flush.
    assert_eq!(w[0], (VnetHdr::default(), u));
    assert_eq!(w[1], (VnetHdr::default(), one[0].clone()));
}

#[test]
fn out_of_order_segments_are_not_joined_and_keep_their_order() {
    let s = flow(1, 40000, 0, 4, 1000, 0);
    let order = vec![s[0].clone(), s[1].clone(), s[3].clone(), s[2].clone()];
    let w = run(&order);
    assert_eq!(w.len(), 3);
    assert_eq!(w[0].0.gso_type, GSO_TCPV6);
    assert_eq!(kernel_view(&w), order);
}

#[test]
fn mixed_flows_join_apart_and_a_pure_ack_flushes_its_own_flow_first() {
    let a = flow(1, 40000, 0, 3, 1208, 0);
    let b = flow(1, 40001, 7777, 3, 1208, 0);
    let mut mixed = Vec::new();
    for i in 0..3 {
        mixed.push(a[i].clone());
        mixed.push(b[i].clone());
    }
    let w = run(&mixed);
    assert_eq!(w.len(), 2);
    let view = kernel_view(&w);
    assert_eq!(&view[..3], &a[..]);
    assert_eq!(&view[3..], &b[..]);

    // A pure ACK in flow a: a's data so far is written before it, b stays held.
    let ack = tcp6(1, 2, (40000, 5201), 3 * 1208, 1, ACK, &TS, &[]);
    let w = run(&[
        a[0].clone(),
        b[0].clone(),
        a[1].clone(),
        ack.clone(),
        b[1].clone(),
    ]);
    let view = kernel_view(&w);
    assert_eq!(
        view,
        vec![a[0].clone(), a[1].clone(), ack, b[0].clone(), b[1].clone()]
    );
}

#[test]
fn what_may_not_join_is_written_alone_in_order() {
    let s = flow(1, 40000, 0, 3, 1000, 0);
    // Bad checksum in the middle: the flow so far, then it alone (the kernel drops it).
    let mut bad = s[1].clone();
    bad[100] ^= 0xff;
    let w = run(&[s[0].clone(), bad.clone(), s[2].clone()]);
    assert_eq!(
        kernel_view(&w),
        vec![s[0].clone(), bad.clone(), s[2].clone()]
    );
    assert!(w.iter().all(|(h, _)| h.gso_type == GSO_NONE));

    // An extension header: never held.
    let mut ext = s[0].clone();
    ext[6] = 0;
    assert_eq!(run(&[ext.clone()]), vec![(VnetHdr::default(), ext)]);

    // A different ack, a different window, SYN: not joined.
    let other_ack = tcp6(1, 2, (40000, 5201), 1000, 2, ACK, &TS, &data(1000, 1));
    let w = run(&[s[0].clone(), other_ack.clone()]);
    assert_eq!(w.len(), 2);
    let syn = tcp6(1, 2, (40000, 5201), 1000, 1, 0x02, &TS, &data(1000, 1));
    let w = run(&[s[0].clone(), syn.clone()]);
    assert_eq!(kernel_view(&w), vec![s[0].clone(), syn]);
}

#[test]
fn psh_or_a_short_segment_ends_a_super_packet_and_bigger_never_joins() {
    let mut s = flow(1, 40000, 0, 4, 1000, 0);
    s[1] = tcp6(1, 2, (40000, 5201), 1000, 1, ACK | PSH, &TS, &data(1000, 1));
    let w = run(&s);
    assert_eq!(w.len(), 2);
    // The PSH is kept on the joined packet, so the kernel's last segment carries it.
    assert_eq!(kernel_view(&w), s);

    let short = vec![
        tcp6(1, 2, (1, 2), 0, 1, ACK, &[], &data(1000, 0)),
        tcp6(1, 2, (1, 2), 1000, 1, ACK, &[], &data(500, 1)),
        tcp6(1, 2, (1, 2), 1500, 1, ACK, &[], &data(500, 2)),
    ];
    let w = run(&short);
    assert_eq!(w.len(), 2);
    assert_eq!(kernel_view(&w), short);

    let bigger = vec![
        tcp6(1, 2, (1, 2), 0, 1, ACK, &[], &data(500, 0)),
        tcp6(1, 2, (1, 2), 500, 1, ACK, &[], &data(1000, 1)),
    ];
    assert_eq!(run(&bigger).len(), 2);
}

#[test]
fn super_packets_stay_under_64k_and_many_flows_evict_the_oldest() {
    let s = flow(1, 40000, 0, 120, 1208, 0);
    let w = run(&s);
    assert!(w.len() >= 3);
    assert!(w.iter().all(|(_, p)| p.len() <= MAX_IP_BYTES));
    assert_eq!(kernel_view(&w), s);

    // Nine flows of two segments each: the first is written when the ninth starts.
    let flows: Vec<Vec<Vec<u8>>> = (0..9).map(|i| flow(1, 1000 + i, 0, 2, 1000, 0)).collect();
    let mut c = Coalescer::default();
    let w = std::cell::RefCell::new(Writes::new());
    let mut out = |h: &[u8; VNET_HDR_BYTES], p: &[u8]| {
        w.borrow_mut()
            .push((VnetHdr::decode(h).expect("hdr"), p.to_vec()));
    };
    for f in &flows[..8] {
        c.push(&f[0], &mut out);
        c.push(&f[1], &mut out);
    }
    c.push(&flows[8][0], &mut out);
    assert_eq!(w.borrow().len(), 1);
    assert_eq!(kernel_view(&w.borrow()), flows[0]);
    c.push(&flows[8][1], &mut out);
    c.flush(&mut out);
    let view = kernel_view(&w.borrow());
    let want: Vec<Vec<u8>> = flows.iter().flatten().cloned().collect();
    assert_eq!(view.len(), want.len());
    for p in &want {
        assert!(view.contains(p));
    }
}
