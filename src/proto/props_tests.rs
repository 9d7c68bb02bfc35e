//! Property tests for the codec: frames survive encode, arbitrary chunking and decode.
//!
//! The stream between the tunnel and the router is cut into TLS records and socket reads at
//! places that have nothing to do with frame boundaries, so the decoder must give the same
//! packets however the bytes arrive. Lengths the protocol forbids (above `MAX_PACKET_BYTES`) end
//! the stream after every whole frame before them; a zero length is an empty packet (the packet
//! filter drops it as `Empty`), as `frame.rs` documents.

use super::frame::{encode, Decoder, Error, HEADER_BYTES, MAX_PACKET_BYTES};
use super::outq::{OutQueue, RECORD_BYTES};
use super::packet::{self, Drop};
use proptest::prelude::*;

/// Packets of any length a frame can carry, short ones more often (they are the tricky ones:
/// several headers per read).
fn packet_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => proptest::collection::vec(any::<u8>(), 0..64),
        1 => proptest::collection::vec(any::<u8>(), 0..=MAX_PACKET_BYTES),
        1 => (any::<u8>(), 0..=MAX_PACKET_BYTES).prop_map(|(b, n)| vec![b; n]),
    ]
}

fn packets() -> impl Strategy<Value = Vec<Vec<u8>>> {
    proptest::collection::vec(packet_bytes(), 0..40)
}

fn stream_of(packets: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in packets {
        assert!(encode(&mut out, p), "{} bytes fit a frame", p.len());
    }
    out
}

/// Cut points turned into chunk lengths that add up to `total` (empty chunks included: a read
/// of 0 bytes must not confuse the decoder either).
fn chunks(total: usize, cuts: &[usize]) -> Vec<usize> {
    let mut at: Vec<usize> = cuts.iter().map(|c| c % (total + 1)).collect();
    at.push(0);
    at.push(total);
    at.sort_unstable();
    at.windows(2).map(|w| w[1] - w[0]).collect()
}

/// Feeds `stream` cut at `cuts`, taking packets after every piece as the sessions do; stops at
/// the first error and returns it with the packets before it.
fn decode_chunked(stream: &[u8], cuts: &[usize]) -> (Vec<Vec<u8>>, Option<Error>, usize) {
    let mut d = Decoder::default();
    let mut got = Vec::new();
    let mut pos = 0;
    for len in chunks(stream.len(), cuts) {
        let piece = &stream[pos..pos + len];
        pos += len;
        let mut fed = 0;
        // A full buffer of whole frames takes less than offered: drain, then offer the rest.
        loop {
            fed += d.feed(&piece[fed..]);
            loop {
                match d.next_packet() {
                    Ok(Some(p)) => got.push(p.to_vec()),
                    Ok(None) => break,
                    Err(e) => return (got, Some(e), d.pending()),
                }
            }
            if fed == piece.len() {
                break;
            }
        }
    }
    (got, None, d.pending())
}

/// The same through `spare`/`filled`, as `Framed` reads TLS plaintext: each read writes at most
/// `reads[i]` bytes into the spare space.
fn decode_by_reads(stream: &[u8], reads: &[usize]) -> Vec<Vec<u8>> {
    let mut d = Decoder::default();
    let mut got = Vec::new();
    let mut pos = 0;
    let mut i = 0;
    while pos < stream.len() {
        let want = reads
            .get(i % reads.len().max(1))
            .copied()
            .unwrap_or(1)
            .max(1);
        i += 1;
        let spare = d.spare();
        let n = want.min(spare.len()).min(stream.len() - pos);
        spare[..n].copy_from_slice(&stream[pos..pos + n]);
        d.filled(n);
        pos += n;
        while let Some(p) = d.next_packet().expect("a valid stream") {
            got.push(p.to_vec());
        }
    }
    assert_eq!(d.pending(), 0);
    got
}

/// The same through `take`, as `Framed` reads rustls' plaintext: chunk by chunk, each offered
/// again from where `take` stopped; stops at the first error.
fn decode_by_take(stream: &[u8], cuts: &[usize]) -> (Vec<Vec<u8>>, Option<Error>, usize) {
    let mut d = Decoder::default();
    let mut got = Vec::new();
    let mut pos = 0;
    for len in chunks(stream.len(), cuts) {
        let mut piece = &stream[pos..pos + len];
        pos += len;
        while !piece.is_empty() {
            match d.take(piece, |p| got.push(p.to_vec())) {
                Ok(used) => piece = &piece[used..],
                Err(e) => return (got, Some(e), d.pending()),
            }
        }
    }
    (got, None, d.pending())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn take_gives_what_the_buffered_decoder_gives_for_any_chunking(
        packets in packets(),
        cuts in proptest::collection::vec(any::<usize>(), 0..60),
        oversize in proptest::option::of(MAX_PACKET_BYTES + 1..=u16::MAX as usize),
    ) {
        let mut stream = stream_of(&packets);
        if let Some(n) = oversize {
            stream.extend_from_slice(&(n as u16).to_be_bytes());
        }
        let (got, err, _) = decode_by_take(&stream, &cuts);
        let (want, want_err, _) = decode_chunked(&stream, &cuts);
        prop_assert_eq!(&got, &want);
        prop_assert_eq!(err, want_err);
        if oversize.is_none() {
            prop_assert_eq!(got, packets);
        }
    }

    #[test]
    fn any_chunking_gives_back_the_encoded_packets(
        packets in packets(),
        cuts in proptest::collection::vec(any::<usize>(), 0..60),
    ) {
        let stream = stream_of(&packets);
        prop_assert_eq!(stream.len(), packets.iter().map(|p| HEADER_BYTES + p.len()).sum::<usize>());
        let (got, err, pending) = decode_chunked(&stream, &cuts);
        prop_assert_eq!(err, None);
        prop_assert_eq!(pending, 0);
        prop_assert_eq!(got, packets);
    }

    #[test]
    fn reads_into_spare_give_back_the_encoded_packets(
        packets in packets(),
        reads in proptest::collection::vec(1usize..5000, 1..20),
    ) {
        let stream = stream_of(&packets);
        prop_assert_eq!(decode_by_reads(&stream, &reads), packets);
    }

    #[test]
    fn an_oversize_length_ends_the_stream_after_the_frames_before_it(
        before in packets(),
        len in (MAX_PACKET_BYTES + 1)..=usize::from(u16::MAX),
        tail in proptest::collection::vec(any::<u8>(), 0..100),
        cuts in proptest::collection::vec(any::<usize>(), 0..20),
    ) {
        let mut stream = stream_of(&before);
        stream.extend_from_slice(&(len as u16).to_be_bytes());
        stream.extend_from_slice(&tail);
        let (got, err, _) = decode_chunked(&stream, &cuts);
        prop_assert_eq!(err, Some(Error::Oversize(len)));
        prop_assert_eq!(got, before);
    }

    #[test]
    fn a_truncated_stream_holds_its_last_frame_back(
        packets in proptest::collection::vec(packet_bytes(), 1..10),
        short in 1usize..,
        cuts in proptest::collection::vec(any::<usize>(), 0..20),
    ) {
        let stream = stream_of(&packets);
        let last = HEADER_BYTES + packets[packets.len() - 1].len();
        let cut = 1 + short % last; // 1..=last bytes of the last frame missing
        let (got, err, pending) = decode_chunked(&stream[..stream.len() - cut], &cuts);
        prop_assert_eq!(err, None);
        prop_assert_eq!(pending, last - cut);
        prop_assert_eq!(&got[..], &packets[..packets.len() - 1]);
    }

    #[test]
    fn encode_takes_exactly_what_a_frame_can_carry(len in 0usize..4000, fill in any::<u8>()) {
        let mut out = vec![0xaa];
        let ok = encode(&mut out, &vec![fill; len]);
        prop_assert_eq!(ok, len <= MAX_PACKET_BYTES);
        if ok {
            prop_assert_eq!(out.len(), 1 + HEADER_BYTES + len);
            prop_assert_eq!(usize::from(u16::from_be_bytes([out[1], out[2]])), len);
        } else {
            prop_assert_eq!(out, vec![0xaa]); // refused, not truncated
        }
    }

    #[test]
    fn zero_length_frames_are_empty_packets_that_the_filter_drops(
        zeros in 1usize..50,
        cuts in proptest::collection::vec(any::<usize>(), 0..10),
    ) {
        let stream = vec![0u8; zeros * HEADER_BYTES];
        let (got, err, pending) = decode_chunked(&stream, &cuts);
        prop_assert_eq!(err, None);
        prop_assert_eq!(pending, 0);
        prop_assert_eq!(got.len(), zeros);
        for p in &got {
            prop_assert!(p.is_empty());
            prop_assert_eq!(packet::parse(p), Err(Drop::Empty));
        }
    }

    /// The sending side: the out queue's batches are whole frames under one record, and the
    /// receiver decodes them to what was queued.
    #[test]
    fn out_queue_batches_decode_to_what_was_queued(
        packets in packets(),
        cuts in proptest::collection::vec(any::<usize>(), 0..30),
    ) {
        let mut q = OutQueue::default();
        for p in &packets {
            prop_assert!(q.push(p));
        }
        let mut wire = Vec::new();
        loop {
            let batch = q.next_batch();
            if batch.is_empty() {
                break;
            }
            prop_assert!(batch.len() <= RECORD_BYTES);
            // Each batch alone decodes with nothing left over: no frame is split across records.
            let (_, err, pending) = decode_chunked(batch, &[]);
            prop_assert_eq!(err, None);
            prop_assert_eq!(pending, 0);
            let n = batch.len();
            wire.extend_from_slice(batch);
            q.consume(n);
        }
        prop_assert!(q.is_empty());
        let (got, err, _) = decode_chunked(&wire, &cuts);
        prop_assert_eq!(err, None);
        prop_assert_eq!(got, packets);
    }
}

#[test]
fn chunk_lengths_add_up() {
    assert_eq!(chunks(10, &[]), vec![10]);
    assert_eq!(chunks(10, &[3, 3, 25]), vec![3, 0, 0, 7]);
    assert_eq!(chunks(0, &[5]), vec![0, 0]);
}
