//! Helpers shared by the fuzz targets: how an input is cut into a header and a byte stream,
//! and the stream into reads.
//!
//! Inputs are laid out so that real data stays readable in the corpus: a few control bytes
//! first, then the bytes under test as they would arrive (frames, a file, a CN).

/// Splits off `k` read lengths (k = first byte % 16, each a big-endian u16) and returns them
/// with the rest of the input, the stream. A short input gives fewer lengths.
pub fn reads_and_stream(data: &[u8]) -> (Vec<usize>, &[u8]) {
    let Some((&k, rest)) = data.split_first() else {
        return (Vec::new(), data);
    };
    let k = usize::from(k % 16).min(rest.len() / 2);
    let (lens, stream) = rest.split_at(2 * k);
    let reads = lens
        .as_chunks::<2>()
        .0
        .iter()
        .map(|c| usize::from(u16::from_be_bytes(*c)))
        .collect();
    (reads, stream)
}

/// The stream's pieces for those read lengths, cycled until the stream is used up. A zero
/// length is a read that returned nothing; at most 4 zero reads in a row are kept so the loop
/// ends, and an empty list means "all at once".
pub fn pieces<'a>(stream: &'a [u8], reads: &[usize]) -> Vec<&'a [u8]> {
    if reads.iter().all(|&r| r == 0) {
        return vec![stream];
    }
    let mut out = Vec::new();
    let mut pos = 0;
    let mut zeros = 0;
    for &len in reads.iter().cycle() {
        if pos >= stream.len() {
            break;
        }
        if len == 0 {
            zeros += 1;
            if zeros > 4 {
                continue;
            }
        } else {
            zeros = 0;
        }
        let n = len.min(stream.len() - pos);
        out.push(&stream[pos..pos + n]);
        pos += n;
    }
    out
}

/// The Internet checksum of ICMPv6 over `src`, `dst` and `msg`: 0 when `msg` carries a correct
/// checksum. Written independently of `proto::heartbeat` to check it.
pub fn icmpv6_sum(src: [u8; 16], dst: [u8; 16], msg: &[u8]) -> u16 {
    let mut sum: u64 = 0;
    let mut add = |bytes: &[u8]| {
        for (i, b) in bytes.iter().enumerate() {
            sum += if i % 2 == 0 {
                u64::from(*b) << 8
            } else {
                u64::from(*b)
            };
        }
    };
    add(&src);
    add(&dst);
    add(&(msg.len() as u32).to_be_bytes());
    add(&[0, 0, 0, 58]);
    add(msg);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}
