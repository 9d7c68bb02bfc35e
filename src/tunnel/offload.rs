//! Segmentation and receive coalescing for the tun device opened with IFF_VNET_HDR (pure code:
//! no syscalls, no allocation per packet).
//!
//! With TUNSETOFFLOAD(TUN_F_CSUM | TUN_F_TSO6) the kernel hands the tunnel TCP super-packets of
//! up to 64 KiB in one read, each behind a `virtio_net_hdr`, and may leave the transport
//! checksum for us to finish. `prepare` turns one such read into the ordinary ≤ MTU packets the
//! wire protocol carries (PROTOCOL.md does not change: the router and the C client never see a
//! super-packet). The other way, `Coalescer` joins consecutive in-order TCP segments of one flow
//! into one super-packet that the kernel takes in one write (GRO); whatever it cannot join goes
//! to the tun as it came. Same idea as wireguard-go's Linux tun offload; one read or write then
//! moves ~45 packets instead of one, which is where the tunnel's CPU went.

use std::fmt;

/// `struct virtio_net_hdr` (the legacy one a tun without TUNSETVNETHDRSZ uses).
pub const VNET_HDR_BYTES: usize = 10;
pub const F_NEEDS_CSUM: u8 = 1;
pub const GSO_NONE: u8 = 0;
pub const GSO_TCPV4: u8 = 1;
pub const GSO_UDP: u8 = 3;
pub const GSO_TCPV6: u8 = 4;
pub const GSO_UDP_L4: u8 = 5;
/// Set on top of a GSO type when the first segment carries CWR.
pub const GSO_ECN: u8 = 0x80;
/// The largest IP packet a read may hold: 64 KiB.
pub const MAX_IP_BYTES: usize = 65535;
/// A buffer that holds any read: the header and the largest packet.
pub const READ_BUF_BYTES: usize = VNET_HDR_BYTES + MAX_IP_BYTES;
/// Flows coalesced at once; more evict the oldest (written as it is).
const MAX_FLOWS: usize = 8;

const IPV6_HEADER: usize = 40;
const TCP: u8 = 6;
const TCP_MIN_HEADER: usize = 20;
const TCP_FIN: u8 = 0x01;
const TCP_PSH: u8 = 0x08;
const TCP_ACK: u8 = 0x10;
const TCP_CWR: u8 = 0x80;
/// Where the TCP checksum sits in its header.
const TCP_CSUM_OFFSET: usize = 16;

/// Why a read from the tun cannot become packets; also its drop counter's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// Shorter than the virtio header.
    Short,
    /// A checksum to finish whose start or offset lies outside the packet.
    BadChecksumOffsets,
    /// A GSO type we did not ask for (UDP, IPv4) or IPv6 extension headers in a TCP one.
    UnsupportedGso,
    /// A GSO packet whose headers or segment size do not add up.
    BadGsoPacket,
}

impl Error {
    pub fn name(self) -> &'static str {
        match self {
            Error::Short => "offload_short_read",
            Error::BadChecksumOffsets => "offload_bad_checksum_offsets",
            Error::UnsupportedGso => "offload_unsupported_gso",
            Error::BadGsoPacket => "offload_bad_gso_packet",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The virtio header in front of every read and write (native byte order, as the tun uses
/// without TUNSETVNETLE/BE).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VnetHdr {
    pub flags: u8,
    pub gso_type: u8,
    pub hdr_len: u16,
    pub gso_size: u16,
    pub csum_start: u16,
    pub csum_offset: u16,
}

impl VnetHdr {
    pub fn decode(b: &[u8]) -> Option<VnetHdr> {
        let b = b.get(..VNET_HDR_BYTES)?;
        let u = |i: usize| u16::from_ne_bytes([b[i], b[i + 1]]);
        Some(VnetHdr {
            flags: b[0],
            gso_type: b[1],
            hdr_len: u(2),
            gso_size: u(4),
            csum_start: u(6),
            csum_offset: u(8),
        })
    }

    pub fn encode(&self) -> [u8; VNET_HDR_BYTES] {
        let mut b = [0u8; VNET_HDR_BYTES];
        b[0] = self.flags;
        b[1] = self.gso_type;
        b[2..4].copy_from_slice(&self.hdr_len.to_ne_bytes());
        b[4..6].copy_from_slice(&self.gso_size.to_ne_bytes());
        b[6..8].copy_from_slice(&self.csum_start.to_ne_bytes());
        b[8..10].copy_from_slice(&self.csum_offset.to_ne_bytes());
        b
    }
}

/// A header that asks nothing of the kernel: the packet behind it is whole and checksummed.
pub const PLAIN: [u8; VNET_HDR_BYTES] = [0; VNET_HDR_BYTES];

/// Adds `data` to a ones' complement sum as big-endian 16-bit words (an odd last byte is padded
/// with zero). Only the last piece of a sum may have an odd length.
pub fn sum(acc: u64, data: &[u8]) -> u64 {
    // The ones' complement sum does not care about byte order (RFC 1071 §2(B)): add native
    // 64-bit words with their carries (a u128 makes that add-with-carry), fold, and swap the
    // 16-bit result into network order. This is the hot loop of segmenting and joining.
    let mut wide: u128 = 0;
    let mut blocks = data.chunks_exact(32);
    for b in &mut blocks {
        let w = |i: usize| {
            u64::from_ne_bytes([
                b[i],
                b[i + 1],
                b[i + 2],
                b[i + 3],
                b[i + 4],
                b[i + 5],
                b[i + 6],
                b[i + 7],
            ]) as u128
        };
        wide += w(0) + w(8) + w(16) + w(24);
    }
    let mut words = blocks.remainder().chunks_exact(8);
    for w in &mut words {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        wide += u64::from_ne_bytes(b) as u128;
    }
    let tail = words.remainder();
    if !tail.is_empty() {
        // Zero padding at the end keeps an odd last byte the high half of its 16-bit word.
        let mut b = [0u8; 8];
        b[..tail.len()].copy_from_slice(tail);
        wide += u64::from_ne_bytes(b) as u128;
    }
    let mut x = (wide as u64 as u128) + (wide >> 64);
    x = (x as u64 as u128) + (x >> 64);
    let native = fold(x as u64);
    let network = if cfg!(target_endian = "little") {
        native.swap_bytes()
    } else {
        native
    };
    acc + network as u64
}

/// Folds a sum to 16 bits (not complemented).
pub fn fold(mut acc: u64) -> u16 {
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// The pseudo-header's part of a transport checksum: addresses, protocol, transport length.
/// `addrs` is source then destination as they sit in the IP header (8 or 32 bytes).
pub fn pseudo(addrs: &[u8], proto: u8, len: usize) -> u64 {
    sum(0, addrs) + proto as u64 + len as u64
}

/// Finishes a checksum the kernel left partial (VIRTIO_NET_HDR_F_NEEDS_CSUM): the field holds
/// the pseudo-header sum; the sum of everything from `start` goes in, complemented.
pub fn finish_checksum(pkt: &mut [u8], start: usize, offset: usize) -> Result<(), Error> {
    let at = start + offset;
    if at + 2 > pkt.len() {
        return Err(Error::BadChecksumOffsets);
    }
    let seed = u16::from_be_bytes([pkt[at], pkt[at + 1]]) as u64;
    pkt[at] = 0;
    pkt[at + 1] = 0;
    let c = !fold(sum(seed, &pkt[start..]));
    // 0 means "no checksum" to UDP; ones' complement has a second zero (as the kernel does).
    let c = if c == 0 { 0xffff } else { c };
    pkt[at..at + 2].copy_from_slice(&c.to_be_bytes());
    Ok(())
}

/// Whether an IPv6 packet's TCP checksum (TCP right after the fixed header) is right.
pub fn tcp6_checksum_ok(pkt: &[u8]) -> bool {
    if pkt.len() < IPV6_HEADER + TCP_MIN_HEADER {
        return false;
    }
    let l4 = pkt.len() - IPV6_HEADER;
    fold(sum(pseudo(&pkt[8..40], TCP, l4), &pkt[IPV6_HEADER..])) == 0xffff
}

/// What one read from the tun holds.
pub enum Read<'a> {
    /// One packet, checksums complete.
    One(&'a [u8]),
    /// A TCP super-packet to cut into `Gso::count` segments.
    Segments(Gso<'a>),
}

/// Takes the virtio header off one read (`read` is the whole read, header first) and finishes
/// what the kernel left to us.
pub fn prepare(read: &mut [u8], max_packet: usize) -> Result<Read<'_>, Error> {
    let hdr = VnetHdr::decode(read).ok_or(Error::Short)?;
    let pkt = &mut read[VNET_HDR_BYTES..];
    if hdr.gso_type == GSO_NONE {
        if hdr.flags & F_NEEDS_CSUM != 0 {
            finish_checksum(pkt, hdr.csum_start as usize, hdr.csum_offset as usize)?;
        }
        return Ok(Read::One(pkt));
    }
    Gso::new(&hdr, pkt, max_packet).map(Read::Segments)
}

/// A TCP/IPv6 super-packet and how it cuts into segments of at most `mss` payload bytes.
#[derive(Debug)]
pub struct Gso<'a> {
    pkt: &'a [u8],
    /// IPv6 and TCP headers: what each segment starts with.
    hdr_len: usize,
    mss: usize,
    seq: u32,
    count: usize,
}

impl<'a> Gso<'a> {
    fn new(hdr: &VnetHdr, pkt: &'a [u8], max_packet: usize) -> Result<Gso<'a>, Error> {
        if hdr.gso_type & !GSO_ECN != GSO_TCPV6 {
            return Err(Error::UnsupportedGso);
        }
        if pkt.len() < IPV6_HEADER + TCP_MIN_HEADER || pkt[0] >> 4 != 6 {
            return Err(Error::BadGsoPacket);
        }
        // Extension headers would need walking and copying per segment; the kernel's TCP
        // does not send them, so a super-packet with one is not ours to guess at.
        if pkt[6] != TCP {
            return Err(Error::UnsupportedGso);
        }
        // The virtio hdr_len is only a hint (the kernel puts its linear length there): the
        // headers are what the TCP header says.
        let tcp_len = (pkt[IPV6_HEADER + 12] >> 4) as usize * 4;
        let hdr_len = IPV6_HEADER + tcp_len;
        let mss = hdr.gso_size as usize;
        if tcp_len < TCP_MIN_HEADER || hdr_len > pkt.len() || mss == 0 || hdr_len + mss > max_packet
        {
            return Err(Error::BadGsoPacket);
        }
        let data = pkt.len() - hdr_len;
        let seq = u32::from_be_bytes([pkt[44], pkt[45], pkt[46], pkt[47]]);
        Ok(Gso {
            pkt,
            hdr_len,
            mss,
            seq,
            count: data.div_ceil(mss).max(1),
        })
    }

    pub fn count(&self) -> usize {
        self.count
    }

    fn data_range(&self, i: usize) -> (usize, usize) {
        let from = self.hdr_len + i * self.mss;
        (from, (from + self.mss).min(self.pkt.len()))
    }

    /// The length of segment `i`.
    pub fn len(&self, i: usize) -> usize {
        let (from, to) = self.data_range(i);
        self.hdr_len + (to - from)
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Writes segment `i` into `dst` (exactly `len(i)` bytes): the headers with its payload
    /// length, sequence number, flags and checksum, then its payload.
    pub fn write(&self, i: usize, dst: &mut [u8]) {
        let (from, to) = self.data_range(i);
        let h = self.hdr_len;
        let len = h + (to - from);
        let dst = &mut dst[..len];
        dst[..h].copy_from_slice(&self.pkt[..h]);
        dst[h..].copy_from_slice(&self.pkt[from..to]);
        dst[4..6].copy_from_slice(&((len - IPV6_HEADER) as u16).to_be_bytes());
        let seq = self.seq.wrapping_add((i * self.mss) as u32);
        dst[44..48].copy_from_slice(&seq.to_be_bytes());
        let flags = IPV6_HEADER + 13;
        // As the kernel's own segmentation: FIN and PSH only on the last, CWR only on the first.
        if i + 1 < self.count {
            dst[flags] &= !(TCP_FIN | TCP_PSH);
        }
        if i > 0 {
            dst[flags] &= !TCP_CWR;
        }
        let at = IPV6_HEADER + TCP_CSUM_OFFSET;
        dst[at] = 0;
        dst[at + 1] = 0;
        let c = !fold(sum(
            pseudo(&dst[8..40], TCP, len - IPV6_HEADER),
            &dst[IPV6_HEADER..],
        ));
        dst[at..at + 2].copy_from_slice(&c.to_be_bytes());
    }
}

/// A TCP/IPv6 packet that may join others: fixed header only, ACK (and maybe PSH) only, data.
struct Candidate {
    tcp_len: usize,
    seq: u32,
    payload: usize,
    psh: bool,
}

fn candidate(p: &[u8]) -> Option<Candidate> {
    if p.len() < IPV6_HEADER + TCP_MIN_HEADER || p[0] >> 4 != 6 || p[6] != TCP {
        return None;
    }
    if u16::from_be_bytes([p[4], p[5]]) as usize != p.len() - IPV6_HEADER {
        return None;
    }
    let tcp_len = (p[IPV6_HEADER + 12] >> 4) as usize * 4;
    if tcp_len < TCP_MIN_HEADER || IPV6_HEADER + tcp_len >= p.len() {
        return None;
    }
    let flags = p[IPV6_HEADER + 13];
    if flags != TCP_ACK && flags != TCP_ACK | TCP_PSH {
        return None;
    }
    Some(Candidate {
        tcp_len,
        seq: u32::from_be_bytes([p[44], p[45], p[46], p[47]]),
        payload: p.len() - IPV6_HEADER - tcp_len,
        psh: flags & TCP_PSH != 0,
    })
}

/// Same addresses and ports: the same TCP connection, one direction.
fn same_flow(a: &[u8], b: &[u8]) -> bool {
    a[8..IPV6_HEADER + 4] == b[8..IPV6_HEADER + 4]
}

/// One flow's packets joined so far: the first packet's headers, then all payloads in order.
#[derive(Default)]
struct Flow {
    pkt: Vec<u8>,
    live: bool,
    /// Order of starting, to evict the oldest.
    born: u64,
    tcp_len: usize,
    next_seq: u32,
    /// Every segment but the last has exactly this payload (the first's).
    gso_size: usize,
    segs: usize,
    /// A short segment or PSH ended it: nothing more may join.
    closed: bool,
}

impl Flow {
    /// Whether `p` continues this flow exactly: the next sequence number, headers equal but for
    /// the lengths and checksum (ports, ack, window, options), and not larger than the first.
    fn takes(&self, p: &[u8], c: &Candidate) -> bool {
        let f = &self.pkt;
        let t = IPV6_HEADER;
        !self.closed
            && c.tcp_len == self.tcp_len
            && c.seq == self.next_seq
            && c.payload <= self.gso_size
            && f.len() + c.payload <= MAX_IP_BYTES
            // Version, traffic class, flow label; next header, hop limit.
            && f[..4] == p[..4]
            && f[6..8] == p[6..8]
            // Ports, ack; data offset; window, urgent pointer and options (the flags: above).
            && f[t..t + 4] == p[t..t + 4]
            && f[t + 8..t + 12] == p[t + 8..t + 12]
            && f[t + 14..t + 16] == p[t + 14..t + 16]
            && f[t + 18..t + self.tcp_len] == p[t + 18..t + self.tcp_len]
    }
}

/// Joins in-order TCP segments of a flow into super-packets, as the packets of one read from the
/// TLS session come; `flush` writes what it holds. `out(header, packet)` is one tun write.
#[derive(Default)]
pub struct Coalescer {
    flows: Vec<Flow>,
    born: u64,
}

impl Coalescer {
    /// One packet from the session (already through the ingress filter).
    pub fn push(&mut self, p: &[u8], out: &mut impl FnMut(&[u8; VNET_HDR_BYTES], &[u8])) {
        let c = candidate(p);
        let is_tcp6 = p.len() >= IPV6_HEADER + TCP_MIN_HEADER && p[0] >> 4 == 6 && p[6] == TCP;
        if is_tcp6 {
            if let Some(i) = self
                .flows
                .iter()
                .position(|f| f.live && same_flow(&f.pkt, p))
            {
                if let Some(c) = &c {
                    if self.flows[i].takes(p, c) && tcp6_checksum_ok(p) {
                        let f = &mut self.flows[i];
                        f.pkt.extend_from_slice(&p[IPV6_HEADER + c.tcp_len..]);
                        f.next_seq = f.next_seq.wrapping_add(c.payload as u32);
                        f.segs += 1;
                        if c.psh {
                            f.pkt[IPV6_HEADER + 13] |= TCP_PSH;
                        }
                        f.closed = c.psh || c.payload < f.gso_size;
                        return;
                    }
                }
                // Whatever this is, the flow's earlier packets go first.
                self.write(i, out);
            }
        }
        match c {
            // Joined packets skip the kernel's checksum check: only good ones start a flow.
            Some(c) if tcp6_checksum_ok(p) => self.start(p, c, out),
            _ => out(&PLAIN, p),
        }
    }

    /// Writes every flow held.
    pub fn flush(&mut self, out: &mut impl FnMut(&[u8; VNET_HDR_BYTES], &[u8])) {
        for i in 0..self.flows.len() {
            if self.flows[i].live {
                self.write(i, out);
            }
        }
    }

    /// Packets held, for tests and counters.
    pub fn held(&self) -> usize {
        self.flows.iter().filter(|f| f.live).map(|f| f.segs).sum()
    }

    fn start(
        &mut self,
        p: &[u8],
        c: Candidate,
        out: &mut impl FnMut(&[u8; VNET_HDR_BYTES], &[u8]),
    ) {
        let slot = match self.flows.iter().position(|f| !f.live) {
            Some(i) => i,
            None if self.flows.len() < MAX_FLOWS => {
                self.flows.push(Flow {
                    pkt: Vec::with_capacity(MAX_IP_BYTES),
                    ..Flow::default()
                });
                self.flows.len() - 1
            }
            None => {
                let oldest = (0..self.flows.len())
                    .min_by_key(|&i| self.flows[i].born)
                    .unwrap_or(0);
                self.write(oldest, out);
                oldest
            }
        };
        self.born += 1;
        let f = &mut self.flows[slot];
        f.pkt.clear();
        f.pkt.extend_from_slice(p);
        f.live = true;
        f.born = self.born;
        f.tcp_len = c.tcp_len;
        f.next_seq = c.seq.wrapping_add(c.payload as u32);
        f.gso_size = c.payload;
        f.segs = 1;
        f.closed = c.psh;
    }

    /// One flow to the tun: as it came when alone, else as a GSO super-packet whose checksum
    /// the kernel finishes (CHECKSUM_PARTIAL: the field holds the pseudo-header sum).
    fn write(&mut self, i: usize, out: &mut impl FnMut(&[u8; VNET_HDR_BYTES], &[u8])) {
        let f = &mut self.flows[i];
        f.live = false;
        if f.segs == 1 {
            out(&PLAIN, &f.pkt);
            return;
        }
        let l4 = f.pkt.len() - IPV6_HEADER;
        f.pkt[4..6].copy_from_slice(&(l4 as u16).to_be_bytes());
        let partial = fold(pseudo(&f.pkt[8..40], TCP, l4));
        let at = IPV6_HEADER + TCP_CSUM_OFFSET;
        f.pkt[at..at + 2].copy_from_slice(&partial.to_be_bytes());
        let hdr = VnetHdr {
            flags: F_NEEDS_CSUM,
            gso_type: GSO_TCPV6,
            hdr_len: (IPV6_HEADER + f.tcp_len) as u16,
            gso_size: f.gso_size as u16,
            csum_start: IPV6_HEADER as u16,
            csum_offset: TCP_CSUM_OFFSET as u16,
        };
        out(&hdr.encode(), &f.pkt);
    }
}

#[cfg(test)]
#[path = "offload_tests.rs"]
mod tests;
