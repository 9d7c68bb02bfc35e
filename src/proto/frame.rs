//! Length-prefixed frames inside the TLS byte stream: `| len: u16 BE | IP packet |`.
//!
//! The decoder owns one reusable buffer that the caller reads TLS plaintext into directly
//! (`spare` + `filled`), so a received byte is copied once, and yields whole packets however the
//! records split them. The encoder appends whole frames to an output buffer; callers pack as many
//! as fit into one TLS write and never split a frame across writes.

/// Bytes of the length prefix.
pub const HEADER_BYTES: usize = 2;
/// The longest frame the reference client accepts; anything longer ends the connection.
pub const MAX_PACKET_BYTES: usize = 1496;
/// Room for many frames at once: what one read from rustls may hand over.
const BUFFER_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// A length above `MAX_PACKET_BYTES`: the stream cannot be trusted any further.
    Oversize(usize),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Oversize(n) => write!(f, "frame of {n} bytes is longer than {MAX_PACKET_BYTES}"),
        }
    }
}

/// Turns a byte stream back into packets.
pub struct Decoder {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
}

impl Default for Decoder {
    /// Without a buffer yet: `spare` makes it on first use. Frames are mostly parsed where
    /// rustls holds them (`whole_frames`), so an idle router session never needs one.
    fn default() -> Self {
        Decoder {
            buf: Box::default(),
            start: 0,
            end: 0,
        }
    }
}

impl Decoder {
    /// Free space to read into; call `filled` with how much was written. Empty only when a whole
    /// buffer of complete frames is waiting to be taken with `next`.
    pub fn spare(&mut self) -> &mut [u8] {
        if self.buf.is_empty() {
            self.buf = vec![0; BUFFER_BYTES].into_boxed_slice();
        }
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        } else if self.start > 0 && self.buf.len() - self.end < HEADER_BYTES + MAX_PACKET_BYTES {
            // Move the partial frame to the front so that a whole frame always fits after it.
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        &mut self.buf[self.end..]
    }

    pub fn filled(&mut self, n: usize) {
        self.end = (self.end + n).min(self.buf.len());
    }

    /// Copies `data` in (for callers that already hold the bytes); returns how much fitted.
    pub fn feed(&mut self, data: &[u8]) -> usize {
        if data.is_empty() {
            return 0; // and no buffer made for nothing
        }
        let spare = self.spare();
        let n = spare.len().min(data.len());
        spare[..n].copy_from_slice(&data[..n]);
        self.filled(n);
        n
    }

    /// The next whole packet, `Ok(None)` when more bytes are needed. A zero-length frame is a
    /// valid empty packet (the caller drops it).
    pub fn next_packet(&mut self) -> Result<Option<&[u8]>, Error> {
        let Some(len) = whole_frame(&self.buf[self.start..self.end])? else {
            return Ok(None);
        };
        let from = self.start + HEADER_BYTES;
        self.start = from + len;
        Ok(Some(&self.buf[from..from + len]))
    }

    /// Takes packets out of `chunk`, the next piece of the stream, calling `packet` for each
    /// whole one; returns how many bytes of `chunk` it used (all of them unless this decoder's
    /// buffer filled up: call again with the rest). Whole frames are handed out where they lie
    /// in `chunk`; only a frame that continues in the next chunk is copied.
    pub fn take(&mut self, chunk: &[u8], mut packet: impl FnMut(&[u8])) -> Result<usize, Error> {
        let used = if self.pending() == 0 {
            let whole = whole_frames(chunk, &mut packet)?;
            whole + self.feed(&chunk[whole..])
        } else {
            self.feed(chunk)
        };
        while let Some(p) = self.next_packet()? {
            packet(p);
        }
        Ok(used)
    }

    /// Bytes held that do not yet make a whole frame (or are not yet taken).
    pub fn pending(&self) -> usize {
        self.end - self.start
    }
}

/// Calls `packet` for each whole frame at the start of `bytes`, in order; returns how many
/// bytes they took (the rest is a frame not yet complete). An oversize length is an error
/// whatever follows it.
pub fn whole_frames(bytes: &[u8], mut packet: impl FnMut(&[u8])) -> Result<usize, Error> {
    let mut at = 0;
    while let Some(len) = whole_frame(&bytes[at..])? {
        let end = at + HEADER_BYTES + len;
        packet(&bytes[at + HEADER_BYTES..end]);
        at = end;
    }
    Ok(at)
}

/// The packet length of the frame at the start of `bytes` if all of it is there; an oversize
/// length is an error as soon as its header is.
fn whole_frame(bytes: &[u8]) -> Result<Option<usize>, Error> {
    let [a, b, ..] = *bytes else {
        return Ok(None);
    };
    let len = u16::from_be_bytes([a, b]) as usize;
    if len > MAX_PACKET_BYTES {
        return Err(Error::Oversize(len));
    }
    Ok((bytes.len() >= HEADER_BYTES + len).then_some(len))
}

/// Appends one frame for `packet` to `out`. Packets longer than a frame can carry are a caller
/// bug (the tun MTU is 1280): they are refused, not truncated.
pub fn encode(out: &mut Vec<u8>, packet: &[u8]) -> bool {
    if packet.len() > MAX_PACKET_BYTES {
        return false;
    }
    out.extend_from_slice(&(packet.len() as u16).to_be_bytes());
    out.extend_from_slice(packet);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(packets: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for p in packets {
            assert!(encode(&mut out, p));
        }
        out
    }

    fn drain(d: &mut Decoder) -> Vec<Vec<u8>> {
        let mut got = Vec::new();
        while let Some(p) = d.next_packet().expect("valid") {
            got.push(p.to_vec());
        }
        got
    }

    #[test]
    fn any_split_of_the_stream_gives_the_same_packets() {
        let packets: Vec<Vec<u8>> = (0..40).map(|i| vec![i as u8; (i * 37) % 1300]).collect();
        let refs: Vec<&[u8]> = packets.iter().map(|p| p.as_slice()).collect();
        let stream = frames(&refs);
        for chunk in [1, 2, 3, 7, 1282, 4096, stream.len()] {
            let mut d = Decoder::default();
            let mut got = Vec::new();
            for piece in stream.chunks(chunk) {
                assert_eq!(d.feed(piece), piece.len());
                got.extend(drain(&mut d));
            }
            assert_eq!(got, packets, "chunk {chunk}");
            assert_eq!(d.pending(), 0);
        }
    }

    #[test]
    fn zero_length_frames_are_packets_and_oversize_is_an_error() {
        let mut d = Decoder::default();
        d.feed(&[0, 0, 0, 1, 9]);
        assert_eq!(d.next_packet(), Ok(Some(&[][..])));
        assert_eq!(d.next_packet(), Ok(Some(&[9][..])));
        let mut d = Decoder::default();
        d.feed(&[0x05, 0xd9]); // 1497
        assert_eq!(d.next_packet(), Err(Error::Oversize(1497)));
        let mut d = Decoder::default();
        d.feed(&[0x05, 0xd8]); // 1496: waits for the body
        assert_eq!(d.next_packet(), Ok(None));
    }

    #[test]
    fn a_full_buffer_of_whole_frames_still_makes_progress() {
        let mut d = Decoder::default();
        let stream = frames(&vec![&[7u8; 1000][..]; 200]);
        let mut fed = 0;
        let mut count = 0;
        while fed < stream.len() {
            fed += d.feed(&stream[fed..]);
            count += drain(&mut d).len();
        }
        assert_eq!(count, 200);
    }

    #[test]
    fn encode_refuses_what_a_frame_cannot_carry() {
        let mut out = Vec::new();
        assert!(!encode(&mut out, &[0; MAX_PACKET_BYTES + 1]));
        assert!(out.is_empty());
        assert!(encode(&mut out, &[1, 2]));
        assert_eq!(out, vec![0, 2, 1, 2]);
    }

    #[test]
    fn whole_frames_stops_before_a_partial_one_and_refuses_oversize() {
        let stream = frames(&[&[1u8; 10][..], &[], &[2u8; 1496]]);
        for cut in 0..=stream.len() {
            let mut got = Vec::new();
            let used = whole_frames(&stream[..cut], |p| got.push(p.to_vec())).unwrap();
            // Exactly the frames that fit whole, and the bytes they took.
            let want: &[usize] = match cut {
                0..=11 => &[],
                12..=13 => &[10],
                14..=1511 => &[10, 0],
                _ => &[10, 0, 1496],
            };
            assert_eq!(
                got.iter().map(Vec::len).collect::<Vec<_>>(),
                want,
                "cut {cut}"
            );
            assert_eq!(used, want.iter().map(|n| n + HEADER_BYTES).sum::<usize>());
        }
        let mut bad = frames(&[&[1u8; 4][..]]);
        bad.extend_from_slice(&1497u16.to_be_bytes());
        assert_eq!(whole_frames(&bad, |_| {}), Err(Error::Oversize(1497)));
    }
}
