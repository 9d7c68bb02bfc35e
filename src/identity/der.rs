//! A minimal DER reader: tag-length-value elements over a byte slice, nothing else.
//!
//! Bounded and panic-free on any input: every length is checked against what is left, lengths
//! are at most four bytes and must be minimal (DER), indefinite lengths and multi-byte tags are
//! refused. It does not interpret contents: `x509.rs` knows what the elements mean.

use std::fmt;

pub const SEQUENCE: u8 = 0x30;
pub const SET: u8 = 0x31;
pub const INTEGER: u8 = 0x02;
pub const BIT_STRING: u8 = 0x03;
pub const OCTET_STRING: u8 = 0x04;
pub const OID: u8 = 0x06;
pub const UTC_TIME: u8 = 0x17;
pub const GENERALIZED_TIME: u8 = 0x18;

/// One element: its tag, its contents, and its whole encoding (tag and length included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    pub tag: u8,
    pub contents: &'a [u8],
    pub raw: &'a [u8],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The input ends inside an element.
    Truncated,
    /// A different tag was expected here.
    UnexpectedTag { expected: u8, found: u8 },
    /// Indefinite, longer than four bytes, or not minimally encoded.
    BadLength,
    /// A tag number above 30 (never used in certificates or keys).
    UnsupportedTag,
    /// Bytes follow the element where nothing should.
    TrailingData,
    /// Something other than the end of the input was expected, or the reverse.
    Missing { expected: u8 },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated => write!(f, "truncated DER"),
            Error::UnexpectedTag { expected, found } => {
                write!(
                    f,
                    "expected {}, found {}",
                    tag_name(*expected),
                    tag_name(*found)
                )
            }
            Error::BadLength => write!(f, "bad DER length"),
            Error::UnsupportedTag => write!(f, "unsupported DER tag"),
            Error::TrailingData => write!(f, "unexpected data after the end"),
            Error::Missing { expected } => write!(f, "{} missing", tag_name(*expected)),
        }
    }
}

/// A tag as an error message names it.
pub fn tag_name(tag: u8) -> String {
    match tag {
        SEQUENCE => "SEQUENCE".to_string(),
        SET => "SET".to_string(),
        INTEGER => "INTEGER".to_string(),
        BIT_STRING => "BIT STRING".to_string(),
        OCTET_STRING => "OCTET STRING".to_string(),
        OID => "OBJECT IDENTIFIER".to_string(),
        UTC_TIME => "UTCTime".to_string(),
        GENERALIZED_TIME => "GeneralizedTime".to_string(),
        t if t & 0xC0 == 0x80 => format!("[{}]", t & 0x1F),
        t => format!("tag 0x{t:02x}"),
    }
}

/// Reads elements one after another from a slice.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Reader { rest: data }
    }

    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The tag of the next element, without consuming it.
    pub fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// The next element, whatever its tag.
    pub fn any(&mut self) -> Result<Tlv<'a>, Error> {
        let (&tag, after_tag) = self.rest.split_first().ok_or(Error::Truncated)?;
        if tag & 0x1F == 0x1F {
            return Err(Error::UnsupportedTag);
        }
        let (&first, after_len) = after_tag.split_first().ok_or(Error::Truncated)?;
        let (len, body) = if first < 0x80 {
            (usize::from(first), after_len)
        } else {
            let n = usize::from(first & 0x7F);
            if n == 0 || n > 4 {
                return Err(Error::BadLength);
            }
            let bytes = after_len.get(..n).ok_or(Error::Truncated)?;
            let len = bytes
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            // DER: the shortest form, so no leading zero byte and no long form below 128.
            if bytes[0] == 0 || len < 0x80 {
                return Err(Error::BadLength);
            }
            (len, &after_len[n..])
        };
        let contents = body.get(..len).ok_or(Error::Truncated)?;
        let header = self.rest.len() - body.len();
        let raw = &self.rest[..header + len];
        self.rest = &body[len..];
        Ok(Tlv { tag, contents, raw })
    }

    /// The next element, which must have `tag`.
    pub fn expect(&mut self, tag: u8) -> Result<Tlv<'a>, Error> {
        match self.peek_tag() {
            None => Err(Error::Missing { expected: tag }),
            Some(found) if found != tag => Err(Error::UnexpectedTag {
                expected: tag,
                found,
            }),
            Some(_) => self.any(),
        }
    }

    /// The next element if it has `tag`, else nothing (and nothing consumed).
    pub fn optional(&mut self, tag: u8) -> Result<Option<Tlv<'a>>, Error> {
        match self.peek_tag() {
            Some(found) if found == tag => self.any().map(Some),
            _ => Ok(None),
        }
    }

    /// Succeeds only if everything was read.
    pub fn finish(&self) -> Result<(), Error> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(Error::TrailingData)
        }
    }
}

/// `data` as exactly one element with `tag`.
pub fn single(data: &[u8], tag: u8) -> Result<Tlv<'_>, Error> {
    let mut r = Reader::new(data);
    let tlv = r.expect(tag)?;
    r.finish()?;
    Ok(tlv)
}

/// The bits of a BIT STRING whose length is a whole number of bytes (keys and signatures).
pub fn whole_bytes(bit_string: &[u8]) -> Result<&[u8], Error> {
    match bit_string.split_first() {
        Some((0, bits)) => Ok(bits),
        _ => Err(Error::BadLength),
    }
}
