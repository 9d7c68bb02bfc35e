//! Tokens of the libconfig syntax, each with the line and column where it starts.
//!
//! Turns bytes into names, punctuation, strings (escapes decoded, adjacent strings joined),
//! integers, floats and booleans, and skips whitespace and the three comment styles. It follows
//! libconfig's own scanner (`lib/scanner.l`) so every file the reference accepts lexes the same
//! way. It does not know which token may follow which: that is the parser's job.

use super::parser::{Pos, SyntaxError};

/// One token. Names and booleans are told apart here, as libconfig's scanner does.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Name(String),
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Equals,
    Semicolon,
    Comma,
    GroupStart,
    GroupEnd,
    ArrayStart,
    ArrayEnd,
    ListStart,
    ListEnd,
    Eof,
}

impl Tok {
    /// How an error message names this token.
    pub fn describe(&self) -> String {
        match self {
            Tok::Name(n) => format!("`{n}`"),
            Tok::Bool(b) => format!("`{b}`"),
            Tok::Int(i) => format!("integer {i}"),
            Tok::Float(f) => format!("float {f}"),
            Tok::Str(_) => "a string".to_string(),
            Tok::Equals => "`=`".to_string(),
            Tok::Semicolon => "`;`".to_string(),
            Tok::Comma => "`,`".to_string(),
            Tok::GroupStart => "`{`".to_string(),
            Tok::GroupEnd => "`}`".to_string(),
            Tok::ArrayStart => "`[`".to_string(),
            Tok::ArrayEnd => "`]`".to_string(),
            Tok::ListStart => "`(`".to_string(),
            Tok::ListEnd => "`)`".to_string(),
            Tok::Eof => "end of file".to_string(),
        }
    }
}

pub struct Lexer<'a> {
    src: &'a [u8],
    at: usize,
    pos: Pos,
}

impl<'a> Lexer<'a> {
    pub fn new(src: &'a [u8]) -> Self {
        Lexer {
            src,
            at: 0,
            pos: Pos { line: 1, col: 1 },
        }
    }

    /// The next token and where it starts.
    pub fn next_token(&mut self) -> Result<(Pos, Tok), SyntaxError> {
        self.skip_blank()?;
        let start = self.pos;
        let Some(b) = self.peek(0) else {
            return Ok((start, Tok::Eof));
        };
        let punct = match b {
            b'=' | b':' => Some(Tok::Equals),
            b';' => Some(Tok::Semicolon),
            b',' => Some(Tok::Comma),
            b'{' => Some(Tok::GroupStart),
            b'}' => Some(Tok::GroupEnd),
            b'[' => Some(Tok::ArrayStart),
            b']' => Some(Tok::ArrayEnd),
            b'(' => Some(Tok::ListStart),
            b')' => Some(Tok::ListEnd),
            _ => None,
        };
        if let Some(tok) = punct {
            self.bump();
            return Ok((start, tok));
        }
        let tok = if b == b'"' {
            self.strings()?
        } else if b.is_ascii_alphabetic() || b == b'*' {
            self.word()
        } else if self.starts_number() {
            self.number()?
        } else if self.src[self.at..].starts_with(b"@include") {
            return Err(err(
                start,
                "@include is not supported: put the settings in this file",
            ));
        } else {
            return Err(err(
                start,
                format!("unexpected character {}", self.char_here()),
            ));
        };
        Ok((start, tok))
    }

    fn peek(&self, ahead: usize) -> Option<u8> {
        self.src.get(self.at + ahead).copied()
    }

    /// Advances one byte, keeping line and column (columns count characters, not bytes).
    fn bump(&mut self) {
        let Some(b) = self.peek(0) else { return };
        self.at += 1;
        if b == b'\n' {
            self.pos.line += 1;
            self.pos.col = 1;
        } else if b & 0xC0 != 0x80 {
            self.pos.col += 1;
        }
    }

    /// Skips whitespace and comments: `#` and `//` to the end of the line, `/* */` anywhere.
    fn skip_blank(&mut self) -> Result<(), SyntaxError> {
        while let Some(b) = self.peek(0) {
            match (b, self.peek(1)) {
                (b' ' | b'\t' | b'\n' | b'\r' | b'\x0c', _) => self.bump(),
                (b'#', _) | (b'/', Some(b'/')) => {
                    while self.peek(0).is_some_and(|c| c != b'\n') {
                        self.bump();
                    }
                }
                (b'/', Some(b'*')) => {
                    let start = self.pos;
                    self.bump();
                    self.bump();
                    loop {
                        match (self.peek(0), self.peek(1)) {
                            (Some(b'*'), Some(b'/')) => break,
                            (Some(_), _) => self.bump(),
                            (None, _) => return Err(err(start, "unterminated /* comment")),
                        }
                    }
                    self.bump();
                    self.bump();
                }
                _ => break,
            }
        }
        Ok(())
    }

    /// A name (`[A-Za-z*][-A-Za-z0-9_*]*`) or a boolean in any case, as libconfig reads them.
    fn word(&mut self) -> Tok {
        let start = self.at;
        while self
            .peek(0)
            .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'*'))
        {
            self.bump();
        }
        // The bytes are ASCII by construction, so this conversion is lossless.
        let word = String::from_utf8_lossy(&self.src[start..self.at]).into_owned();
        if word.eq_ignore_ascii_case("true") {
            Tok::Bool(true)
        } else if word.eq_ignore_ascii_case("false") {
            Tok::Bool(false)
        } else {
            Tok::Name(word)
        }
    }

    fn starts_number(&self) -> bool {
        let digit = |i| self.peek(i).is_some_and(|c: u8| c.is_ascii_digit());
        match self.peek(0) {
            Some(c) if c.is_ascii_digit() => true,
            Some(b'.') => digit(1),
            Some(b'+' | b'-') => digit(1) || (self.peek(1) == Some(b'.') && digit(2)),
            _ => false,
        }
    }

    /// Reads the whole number-like word, so `12ab` is one bad number, not `12` then `ab`.
    fn number(&mut self) -> Result<Tok, SyntaxError> {
        let start_pos = self.pos;
        let start = self.at;
        self.bump(); // a sign, digit or dot: starts_number checked it
        while let Some(c) = self.peek(0) {
            let after_exp = matches!(self.src[self.at - 1], b'e' | b'E');
            if c.is_ascii_alphanumeric()
                || c == b'.'
                || c == b'_'
                || (after_exp && matches!(c, b'+' | b'-'))
            {
                self.bump();
            } else {
                break;
            }
        }
        let text = String::from_utf8_lossy(&self.src[start..self.at]).into_owned();
        super::number::classify(&text).map_err(|msg| err(start_pos, msg))
    }

    /// One string, or several adjacent ones joined, as libconfig joins them.
    fn strings(&mut self) -> Result<Tok, SyntaxError> {
        let start = self.pos;
        let mut bytes = Vec::new();
        loop {
            self.one_string(&mut bytes)?;
            self.skip_blank()?;
            if self.peek(0) != Some(b'"') {
                break;
            }
        }
        String::from_utf8(bytes)
            .map(Tok::Str)
            .map_err(|_| err(start, "string is not valid UTF-8"))
    }

    /// The escapes are libconfig's: `\\ \" \n \r \t \f \xNN`; any other backslash stays a
    /// backslash, as in libconfig, so a file the reference accepts reads the same here.
    fn one_string(&mut self, out: &mut Vec<u8>) -> Result<(), SyntaxError> {
        let start = self.pos;
        self.bump(); // the opening quote
        loop {
            let Some(b) = self.peek(0) else {
                return Err(err(start, "unterminated string"));
            };
            if b == b'"' {
                self.bump();
                return Ok(());
            }
            if b != b'\\' {
                out.push(b);
                self.bump();
                continue;
            }
            let escaped = match self.peek(1) {
                Some(b'n') => Some(b'\n'),
                Some(b'r') => Some(b'\r'),
                Some(b't') => Some(b'\t'),
                Some(b'f') => Some(b'\x0c'),
                Some(b'\\') => Some(b'\\'),
                Some(b'"') => Some(b'"'),
                _ => None,
            };
            if let Some(e) = escaped {
                out.push(e);
                self.bump();
                self.bump();
            } else if let Some(x) = self.hex_escape() {
                out.push(x);
                for _ in 0..4 {
                    self.bump();
                }
            } else {
                out.push(b'\\');
                self.bump();
            }
        }
    }

    /// The byte of a `\xNN` escape at the current position, if there is one.
    fn hex_escape(&self) -> Option<u8> {
        if !matches!(self.peek(1), Some(b'x' | b'X')) {
            return None;
        }
        let hi = (self.peek(2)? as char).to_digit(16)?;
        let lo = (self.peek(3)? as char).to_digit(16)?;
        u8::try_from(hi * 16 + lo).ok()
    }

    /// The character at the current position, for an error message.
    fn char_here(&self) -> String {
        let rest = &self.src[self.at..];
        let end = rest.len().min(4);
        for len in 1..=end {
            if let Ok(s) = std::str::from_utf8(&rest[..len]) {
                return format!("{s:?}");
            }
        }
        format!("byte 0x{:02x}", rest.first().copied().unwrap_or(0))
    }
}

fn err(pos: Pos, msg: impl Into<String>) -> SyntaxError {
    SyntaxError {
        pos,
        msg: msg.into(),
    }
}
