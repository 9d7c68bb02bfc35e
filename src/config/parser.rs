//! The libconfig grammar: settings, groups, arrays and lists, into an untyped tree with positions.
//!
//! `parse(path)` opens a file and hands a reader to `parse_reader`, which is pure and unit-tested.
//! The grammar is libconfig's own (`lib/grammar.y`): `name = value` or `name : value`, an optional
//! `;` or `,` after each setting, arrays of one scalar type, no trailing commas, no duplicate
//! names in a group. It knows nothing about enftun's keys: `typed.rs` gives the tree meaning.

use std::fmt;
use std::io::Read;
use std::path::Path;

use super::lexer::{Lexer, Tok};

/// Files larger than this are not configuration files; refusing them keeps parsing bounded.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;
/// Groups and lists nest at most this deep, so a hostile file cannot exhaust the stack.
pub const MAX_DEPTH: usize = 32;

/// A place in the file: 1-based line and column (columns count characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

/// `name = value`, with the position of the name.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    pub name: String,
    pub pos: Pos,
    pub value: Value,
}

/// An element of an array or list, with its own position for error messages.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub pos: Pos,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Array(Vec<Item>),
    List(Vec<Item>),
    Group(Vec<Setting>),
}

impl Value {
    /// The type's name as an error message says it ("expected a string, found an integer").
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Str(_) => "a string",
            Value::Array(_) => "an array",
            Value::List(_) => "a list",
            Value::Group(_) => "a group",
        }
    }
}

/// A syntax error at a position.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    pub pos: Pos,
    pub msg: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.pos.line, self.pos.col, self.msg)
    }
}

#[derive(Debug)]
pub enum ParseError {
    Read(std::io::Error),
    TooLarge,
    Syntax(SyntaxError),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Read(e) => write!(f, "{e}"),
            ParseError::TooLarge => write!(f, "larger than {MAX_FILE_BYTES} bytes"),
            ParseError::Syntax(e) => write!(f, "{e}"),
        }
    }
}

/// Opens and parses a configuration file.
pub fn parse(path: &Path) -> Result<Vec<Setting>, ParseError> {
    let file = std::fs::File::open(path).map_err(ParseError::Read)?;
    parse_reader(file)
}

/// Parses a whole configuration from a reader (at most `MAX_FILE_BYTES`).
pub fn parse_reader<R: Read>(reader: R) -> Result<Vec<Setting>, ParseError> {
    let mut bytes = Vec::new();
    reader
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(ParseError::Read)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(ParseError::TooLarge);
    }
    parse_bytes(&bytes).map_err(ParseError::Syntax)
}

/// Parses configuration text.
pub fn parse_bytes(src: &[u8]) -> Result<Vec<Setting>, SyntaxError> {
    let mut p = Parser {
        lexer: Lexer::new(src),
        peeked: None,
    };
    let settings = p.settings(0)?;
    match p.next()? {
        (_, Tok::Eof) => Ok(settings),
        (pos, tok) => Err(err(
            pos,
            format!("expected a setting name, found {}", tok.describe()),
        )),
    }
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    peeked: Option<(Pos, Tok)>,
}

impl Parser<'_> {
    fn next(&mut self) -> Result<(Pos, Tok), SyntaxError> {
        match self.peeked.take() {
            Some(t) => Ok(t),
            None => self.lexer.next_token(),
        }
    }

    fn peek(&mut self) -> Result<&Tok, SyntaxError> {
        if self.peeked.is_none() {
            self.peeked = Some(self.lexer.next_token()?);
        }
        match &self.peeked {
            Some((_, tok)) => Ok(tok),
            None => Ok(&Tok::Eof),
        }
    }

    /// Settings up to (not including) a `}` or the end of the file.
    fn settings(&mut self, depth: usize) -> Result<Vec<Setting>, SyntaxError> {
        let mut out: Vec<Setting> = Vec::new();
        while let Tok::Name(_) = self.peek()? {
            let (pos, Tok::Name(name)) = self.next()? else {
                continue;
            };
            let (at, tok) = self.next()?;
            if tok != Tok::Equals {
                let found = tok.describe();
                return Err(err(
                    at,
                    format!("expected `=` or `:` after `{name}`, found {found}"),
                ));
            }
            if let Some(first) = out.iter().find(|s| s.name == name) {
                let line = first.pos.line;
                return Err(err(
                    pos,
                    format!("duplicate setting `{name}` (first set on line {line})"),
                ));
            }
            let (_, value) = self.value(depth)?;
            if matches!(self.peek()?, Tok::Semicolon | Tok::Comma) {
                self.next()?;
            }
            out.push(Setting { name, pos, value });
        }
        Ok(out)
    }

    /// A value and where it starts.
    fn value(&mut self, depth: usize) -> Result<(Pos, Value), SyntaxError> {
        let (pos, tok) = self.next()?;
        let nested = matches!(tok, Tok::GroupStart | Tok::ArrayStart | Tok::ListStart);
        if nested && depth >= MAX_DEPTH {
            return Err(err(pos, format!("nested deeper than {MAX_DEPTH} levels")));
        }
        let value = match tok {
            Tok::GroupStart => {
                let settings = self.settings(depth + 1)?;
                let (at, tok) = self.next()?;
                match tok {
                    Tok::GroupEnd => Value::Group(settings),
                    Tok::Eof => return Err(unclosed(at, "{", pos)),
                    other => {
                        let found = other.describe();
                        return Err(err(
                            at,
                            format!("expected a setting name or `}}`, found {found}"),
                        ));
                    }
                }
            }
            Tok::ArrayStart => Value::Array(self.items(depth + 1, pos, Tok::ArrayEnd)?),
            Tok::ListStart => Value::List(self.items(depth + 1, pos, Tok::ListEnd)?),
            other => scalar(pos, other)?,
        };
        Ok((pos, value))
    }

    /// The elements of an array or list, then its closing bracket.
    fn items(&mut self, depth: usize, open: Pos, end: Tok) -> Result<Vec<Item>, SyntaxError> {
        let mut items: Vec<Item> = Vec::new();
        if *self.peek()? == end {
            self.next()?;
            return Ok(items);
        }
        let bracket = if end == Tok::ArrayEnd { "[" } else { "(" };
        loop {
            if *self.peek()? == Tok::Eof {
                let (at, _) = self.next()?;
                return Err(unclosed(at, bracket, open));
            }
            let (pos, value) = self.value(depth)?;
            if end == Tok::ArrayEnd {
                check_array_element(pos, &value, items.first().map(|i| &i.value))?;
            }
            items.push(Item { pos, value });
            let (at, tok) = self.next()?;
            if tok == end {
                return Ok(items);
            }
            if tok == Tok::Eof {
                return Err(unclosed(at, bracket, open));
            }
            if tok != Tok::Comma {
                let want = end.describe();
                return Err(err(
                    at,
                    format!("expected `,` or {want}, found {}", tok.describe()),
                ));
            }
            if *self.peek()? == end {
                let (at, _) = self.next()?;
                return Err(err(at, format!("trailing `,` before {}", end.describe())));
            }
        }
    }
}

fn scalar(pos: Pos, tok: Tok) -> Result<Value, SyntaxError> {
    match tok {
        Tok::Bool(b) => Ok(Value::Bool(b)),
        Tok::Int(i) => Ok(Value::Int(i)),
        Tok::Float(f) => Ok(Value::Float(f)),
        Tok::Str(s) => Ok(Value::Str(s)),
        Tok::Name(n) => Err(err(
            pos,
            format!("expected a value, found `{n}` (strings need double quotes: \"{n}\")"),
        )),
        other => Err(err(
            pos,
            format!("expected a value, found {}", other.describe()),
        )),
    }
}

/// libconfig arrays hold scalars of one type; lists `( )` hold anything.
fn check_array_element(pos: Pos, value: &Value, first: Option<&Value>) -> Result<(), SyntaxError> {
    if matches!(value, Value::Array(_) | Value::List(_) | Value::Group(_)) {
        let msg = format!(
            "an array holds only scalars, found {}; use ( ) for a list",
            value.type_name()
        );
        return Err(err(pos, msg));
    }
    match first {
        Some(first) if std::mem::discriminant(first) != std::mem::discriminant(value) => {
            let (want, found) = (first.type_name(), value.type_name());
            Err(err(
                pos,
                format!("array elements must have one type: found {found} after {want}"),
            ))
        }
        _ => Ok(()),
    }
}

fn unclosed(at: Pos, bracket: &str, open: Pos) -> SyntaxError {
    let (line, col) = (open.line, open.col);
    err(
        at,
        format!("`{bracket}` opened at {line}:{col} is never closed"),
    )
}

fn err(pos: Pos, msg: impl Into<String>) -> SyntaxError {
    SyntaxError {
        pos,
        msg: msg.into(),
    }
}
