//! Outgoing frames (router sessions and the tunnel), handed to rustls as whole frames only.
//!
//! Frames queue here as encoded bytes. `next_batch` gives out up to 16 KiB of whole frames at a
//! time, so that each rustls write becomes exactly one TLS record and no frame is ever split
//! across records (the reference's test server breaks on that). The queue is bounded: a receiver
//! that cannot keep up loses packets (counted), the router does not grow.

use super::frame;

/// One TLS record's worth of plaintext.
pub const RECORD_BYTES: usize = 16 * 1024;
/// How much may wait for one slow receiver before its packets are dropped.
pub const QUEUE_LIMIT_BYTES: usize = 1024 * 1024;

#[derive(Default)]
pub struct OutQueue {
    buf: Vec<u8>,
    start: usize,
}

impl OutQueue {
    /// Queues one packet; `false` (and nothing queued) when the queue is full.
    pub fn push(&mut self, packet: &[u8]) -> bool {
        if self.len() + frame::HEADER_BYTES + packet.len() > QUEUE_LIMIT_BYTES {
            return false;
        }
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        frame::encode(&mut self.buf, packet)
    }

    /// Queues one packet of `len` bytes that `fill` writes in place (no copy through a scratch
    /// buffer). `Ok(false)` when the queue is full or the packet too long for a frame (`fill` is
    /// not called); `Err` when `fill` refuses what it wrote (nothing is queued).
    pub fn push_with<E>(
        &mut self,
        len: usize,
        fill: impl FnOnce(&mut [u8]) -> Result<(), E>,
    ) -> Result<bool, E> {
        if len > frame::MAX_PACKET_BYTES
            || self.len() + frame::HEADER_BYTES + len > QUEUE_LIMIT_BYTES
        {
            return Ok(false);
        }
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        let at = self.buf.len();
        self.buf.resize(at + frame::HEADER_BYTES + len, 0);
        self.buf[at..at + frame::HEADER_BYTES].copy_from_slice(&(len as u16).to_be_bytes());
        match fill(&mut self.buf[at + frame::HEADER_BYTES..]) {
            Ok(()) => Ok(true),
            Err(e) => {
                self.buf.truncate(at);
                Err(e)
            }
        }
    }

    pub fn len(&self) -> usize {
        self.buf.len() - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The next run of whole frames, at most `RECORD_BYTES` (one frame always fits: frames are
    /// at most 1498 bytes). Call `consume` with its length once written.
    pub fn next_batch(&self) -> &[u8] {
        let rest = &self.buf[self.start..];
        let mut end = 0;
        while end + frame::HEADER_BYTES <= rest.len() {
            let len = u16::from_be_bytes([rest[end], rest[end + 1]]) as usize;
            let next = end + frame::HEADER_BYTES + len;
            if next > RECORD_BYTES || next > rest.len() {
                break;
            }
            end = next;
        }
        &rest[..end]
    }

    pub fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.buf.len());
        // Reclaim the front once it is the larger part, so the buffer does not creep.
        if self.start > self.buf.len() / 2 && self.start > RECORD_BYTES {
            self.buf.drain(..self.start);
            self.start = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::frame::Decoder;

    #[test]
    fn batches_are_whole_frames_under_a_record_and_lose_nothing() {
        let mut q = OutQueue::default();
        let packets: Vec<Vec<u8>> = (0..300)
            .map(|i| vec![i as u8; 40 + (i * 13) % 1240])
            .collect();
        for p in &packets {
            assert!(q.push(p));
        }
        let mut d = Decoder::default();
        let mut got = Vec::new();
        while !q.is_empty() {
            let batch = q.next_batch().to_vec();
            assert!(!batch.is_empty() && batch.len() <= RECORD_BYTES);
            // Each batch decodes on its own into whole packets: no frame crosses a batch.
            let mut alone = Decoder::default();
            alone.feed(&batch);
            while let Some(_p) = alone.next_packet().expect("valid") {}
            assert_eq!(alone.pending(), 0);
            d.feed(&batch);
            while let Some(p) = d.next_packet().expect("valid") {
                got.push(p.to_vec());
            }
            q.consume(batch.len());
        }
        assert_eq!(got, packets);
    }

    #[test]
    fn packets_written_in_place_queue_like_pushed_ones() {
        let mut q = OutQueue::default();
        let mut pushed = OutQueue::default();
        for i in 0..50usize {
            let p: Vec<u8> = (0..(i * 29) % 1300).map(|j| (i + j) as u8).collect();
            assert_eq!(
                q.push_with(p.len(), |dst: &mut [u8]| -> Result<(), ()> {
                    dst.copy_from_slice(&p);
                    Ok(())
                }),
                Ok(true)
            );
            assert!(pushed.push(&p));
            // A refused one leaves nothing behind.
            assert_eq!(q.push_with(10, |_| Err("no")), Err("no"));
        }
        assert_eq!(q.next_batch(), pushed.next_batch());
        assert_eq!(q.len(), pushed.len());
        let too_long = q.push_with(frame::MAX_PACKET_BYTES + 1, |_| -> Result<(), ()> {
            panic!("not called")
        });
        assert_eq!(too_long, Ok(false));
    }

    #[test]
    fn a_full_queue_refuses_instead_of_growing() {
        let mut q = OutQueue::default();
        let p = [0u8; 1280];
        let mut n = 0;
        while q.push(&p) {
            n += 1;
        }
        assert_eq!(n, QUEUE_LIMIT_BYTES / 1282);
        assert!(q.len() <= QUEUE_LIMIT_BYTES);
        let b = q.next_batch().len();
        q.consume(b);
        assert!(q.push(&p));
    }
}
