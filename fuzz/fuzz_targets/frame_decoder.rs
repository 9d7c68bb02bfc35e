//! The frame decoder under arbitrary chunking of its input into reads.
//!
//! Input: `k` (first byte % 16), k big-endian u16 read lengths, then the byte stream. Checks that
//! the packets (and the error, if any) are the same whether the stream arrives in one piece,
//! through `feed` in the given pieces, through `spare`/`filled`, or through `take` as the TLS
//! reader hands it rustls' plaintext chunks;
//! that every packet is at most `MAX_PACKET_BYTES`; and that re-encoding the packets gives back
//! the stream up to what is still pending or where the error is.

#![no_main]

use enf_init::proto::frame::{encode, Decoder, Error, HEADER_BYTES, MAX_PACKET_BYTES};
use enf_init_fuzz::{pieces, reads_and_stream};
use libfuzzer_sys::fuzz_target;

/// What decoding gave: the packets, the error that stopped it, and the bytes held back.
#[derive(Debug, PartialEq)]
struct Outcome {
    packets: Vec<Vec<u8>>,
    error: Option<Error>,
    /// Bytes held back at the end; `None` after an error (how much was read past it depends
    /// on the chunking, and the session ends there anyway).
    pending: Option<usize>,
}

impl Outcome {
    fn new(packets: Vec<Vec<u8>>, end: Result<usize, Error>) -> Outcome {
        match end {
            Ok(pending) => Outcome {
                packets,
                error: None,
                pending: Some(pending),
            },
            Err(e) => Outcome {
                packets,
                error: Some(e),
                pending: None,
            },
        }
    }
}

/// Takes every whole packet; `Err` when the stream turned out to be broken.
fn drain(d: &mut Decoder, packets: &mut Vec<Vec<u8>>) -> Result<(), Error> {
    while let Some(p) = d.next_packet()? {
        assert!(p.len() <= MAX_PACKET_BYTES, "a packet of {} bytes", p.len());
        packets.push(p.to_vec());
    }
    Ok(())
}

/// Through `feed`, draining after each piece (and whenever the buffer is full).
fn by_feed(stream_pieces: &[&[u8]]) -> Outcome {
    let mut d = Decoder::default();
    let mut packets = Vec::new();
    let mut stuck = 0;
    for piece in stream_pieces {
        let mut fed = 0;
        loop {
            let n = d.feed(&piece[fed..]);
            fed += n;
            if let Err(e) = drain(&mut d, &mut packets) {
                return Outcome::new(packets, Err(e));
            }
            if fed == piece.len() {
                break;
            }
            // A full buffer takes nothing until drained; after a drain it must take something.
            stuck = if n == 0 { stuck + 1 } else { 0 };
            assert!(stuck < 2, "the decoder takes no more bytes after a drain");
        }
    }
    Outcome::new(packets, Ok(d.pending()))
}

/// Through `spare`/`filled`, as `tls::framed` reads plaintext: each read writes at most its
/// length into the spare space.
fn by_reads(stream: &[u8], reads: &[usize]) -> Outcome {
    let mut d = Decoder::default();
    let mut packets = Vec::new();
    let mut pos = 0;
    let mut i = 0;
    let mut idle = 0;
    while pos < stream.len() {
        let want = if reads.is_empty() {
            stream.len()
        } else {
            reads[i % reads.len()]
        };
        i += 1;
        let spare = d.spare();
        let n = want.min(spare.len()).min(stream.len() - pos);
        spare[..n].copy_from_slice(&stream[pos..pos + n]);
        d.filled(n);
        pos += n;
        if let Err(e) = drain(&mut d, &mut packets) {
            return Outcome::new(packets, Err(e));
        }
        idle = if n == 0 { idle + 1 } else { 0 };
        if idle > reads.len() + 1 {
            // Every read length is zero: the caller would wait for the socket; stop here.
            return by_feed(&[stream]);
        }
    }
    Outcome::new(packets, Ok(d.pending()))
}

/// Through `take`, as `tls::framed` takes rustls' plaintext: each piece offered until used.
fn by_take(stream_pieces: &[&[u8]]) -> Outcome {
    let mut d = Decoder::default();
    let mut packets = Vec::new();
    for piece in stream_pieces {
        let mut rest = *piece;
        let mut stuck = 0;
        while !rest.is_empty() {
            let took = d.take(rest, |p| {
                assert!(p.len() <= MAX_PACKET_BYTES, "a packet of {} bytes", p.len());
                packets.push(p.to_vec());
            });
            match took {
                Ok(n) => {
                    stuck = if n == 0 { stuck + 1 } else { 0 };
                    assert!(stuck < 2, "take used nothing twice in a row");
                    rest = &rest[n..];
                }
                Err(e) => return Outcome::new(packets, Err(e)),
            }
        }
    }
    Outcome::new(packets, Ok(d.pending()))
}

fuzz_target!(|data: &[u8]| {
    let (reads, stream) = reads_and_stream(data);
    let whole = by_feed(&[stream]);
    let fed = by_feed(&pieces(stream, &reads));
    assert_eq!(fed, whole, "feed in pieces {reads:?}");
    let read = by_reads(stream, &reads);
    assert_eq!(read, whole, "spare/filled reads {reads:?}");
    let taken = by_take(&pieces(stream, &reads));
    assert_eq!(taken, whole, "take in pieces {reads:?}");

    // The packets re-encode to the stream's prefix; what follows is the pending tail or the
    // oversize header that stopped it.
    let mut again = Vec::new();
    for p in &whole.packets {
        assert!(encode(&mut again, p));
    }
    assert_eq!(&stream[..again.len()], &again[..]);
    let rest = &stream[again.len()..];
    match whole.error {
        None => assert_eq!(Some(rest.len()), whole.pending),
        Some(Error::Oversize(n)) => {
            assert!(n > MAX_PACKET_BYTES);
            assert!(rest.len() >= HEADER_BYTES);
            assert_eq!(usize::from(u16::from_be_bytes([rest[0], rest[1]])), n);
        }
    }
});
