//! The configuration parser: libconfig syntax, then the typed `Config`, then the printer.
//!
//! Input: the file's bytes. Checks that a syntax or key error carries a line (and column) that
//! exist in the input; that every position in a parsed tree does too; that the tree printed back
//! as libconfig text parses to the same tree (positions aside); and that when the typed layer
//! accepts the file, `print` gives a file that parses and types to the same settings, without
//! warnings, and prints the same again: parse(print(parse(x))) == parse(x).

#![no_main]

use enf_init::config::parser::{parse_bytes, Pos, Setting, Value};
use enf_init::config::print::print;
use enf_init::config::{from_settings, Config, Error};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

/// Where the fuzzed file pretends to live (relative paths resolve against its directory).
const FILE: &str = "/fuzz/etc/enf0.conf";

/// Lines of the input, and per line the number of characters as the lexer counts columns
/// (bytes that do not continue a UTF-8 sequence).
fn line_widths(src: &[u8]) -> Vec<u32> {
    src.split(|&b| b == b'\n')
        .map(|l| l.iter().filter(|&&b| b & 0xC0 != 0x80).count() as u32)
        .collect()
}

/// A position is on a line of the input, at most one past its last character (where an
/// unexpected end of line or file is reported).
fn assert_in_input(pos: Pos, widths: &[u32], what: &str) {
    assert!(pos.line >= 1 && pos.col >= 1, "{what}: {pos:?}");
    let width = widths.get(pos.line as usize - 1);
    assert!(
        width.is_some(),
        "{what}: line {} of {}",
        pos.line,
        widths.len()
    );
    assert!(
        pos.col <= width.copied().unwrap_or(0) + 1,
        "{what}: {pos:?}, line width {width:?}"
    );
}

fn check_positions(settings: &[Setting], widths: &[u32]) {
    for s in settings {
        assert_in_input(s.pos, widths, &s.name);
        check_value(&s.value, widths);
    }
}

fn check_value(v: &Value, widths: &[u32]) {
    match v {
        Value::Group(g) => check_positions(g, widths),
        Value::Array(items) | Value::List(items) => {
            for i in items {
                assert_in_input(i.pos, widths, "item");
                check_value(&i.value, widths);
            }
        }
        _ => {}
    }
}

/// The tree without positions, floats by their bits (so -0.0 and 0.0 differ, as printed).
#[derive(Debug, PartialEq)]
enum Bare {
    Bool(bool),
    Int(i64),
    Float(u64),
    Str(String),
    Array(Vec<Bare>),
    List(Vec<Bare>),
    Group(Vec<(String, Bare)>),
}

fn bare(settings: &[Setting]) -> Vec<(String, Bare)> {
    settings
        .iter()
        .map(|s| (s.name.clone(), bare_value(&s.value)))
        .collect()
}

fn bare_value(v: &Value) -> Bare {
    match v {
        Value::Bool(b) => Bare::Bool(*b),
        Value::Int(i) => Bare::Int(*i),
        Value::Float(f) => Bare::Float(f.to_bits()),
        Value::Str(s) => Bare::Str(s.clone()),
        Value::Array(items) => Bare::Array(items.iter().map(|i| bare_value(&i.value)).collect()),
        Value::List(items) => Bare::List(items.iter().map(|i| bare_value(&i.value)).collect()),
        Value::Group(g) => Bare::Group(bare(g)),
    }
}

/// A libconfig string literal (the escapes libconfig reads: `\" \\ \n \r \t \f \xNN`).
fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_ascii_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The tree as libconfig text, written independently of `config::print` (which prints a typed
/// `Config`, not a tree).
fn write_settings(settings: &[Setting], out: &mut String) {
    for s in settings {
        out.push_str(&s.name);
        out.push_str(" = ");
        write_value(&s.value, out);
        out.push_str(";\n");
    }
}

fn write_value(v: &Value, out: &mut String) {
    let items = |items: &[enf_init::config::parser::Item], open, close, out: &mut String| {
        out.push_str(open);
        for (n, i) in items.iter().enumerate() {
            if n > 0 {
                out.push_str(", ");
            }
            write_value(&i.value, out);
        }
        out.push_str(close);
    };
    match v {
        Value::Bool(b) => out.push_str(&b.to_string()),
        Value::Int(i) => out.push_str(&i.to_string()),
        // Debug prints the shortest text that reads back to the same bits, always with a `.`
        // or an exponent, so it stays a float.
        Value::Float(f) => out.push_str(&format!("{f:?}")),
        Value::Str(s) => out.push_str(&quote(s)),
        Value::Array(a) => items(a, "[", "]", out),
        Value::List(l) => items(l, "(", ")", out),
        Value::Group(g) => {
            out.push_str("{\n");
            write_settings(g, out);
            out.push('}');
        }
    }
}

/// The settings of two configurations (not their file, origins or warnings).
fn same_settings(a: &Config, b: &Config) -> bool {
    (&a.version, &a.tun, &a.remote, &a.route, &a.identity)
        == (&b.version, &b.tun, &b.remote, &b.route, &b.identity)
}

fuzz_target!(|data: &[u8]| {
    let widths = line_widths(data);
    let settings = match parse_bytes(data) {
        Ok(s) => s,
        Err(e) => {
            assert_in_input(e.pos, &widths, &e.msg);
            assert!(!e.msg.is_empty());
            return;
        }
    };
    check_positions(&settings, &widths);

    // The syntax round trip.
    let mut text = String::new();
    write_settings(&settings, &mut text);
    match parse_bytes(text.as_bytes()) {
        Ok(again) => assert_eq!(bare(&again), bare(&settings), "tree round trip of\n{text}"),
        Err(e) => panic!("the printed tree does not parse: {e}\n{text}"),
    }

    // The typed round trip.
    let cfg = match from_settings(&settings, Path::new(FILE)) {
        Ok(c) => c,
        Err(Error::Key {
            line,
            key,
            msg,
            path,
        }) => {
            assert_eq!(path, Path::new(FILE));
            assert!(
                line >= 1 && line as usize <= widths.len(),
                "{key}: line {line}"
            );
            assert!(!key.is_empty() && !msg.is_empty());
            return;
        }
        Err(other) => panic!("typing gives only key errors, not {other}"),
    };
    let printed = print(&cfg);
    let reparsed = parse_bytes(printed.as_bytes())
        .unwrap_or_else(|e| panic!("print's output does not parse: {e}\n{printed}"));
    let back = from_settings(&reparsed, Path::new(FILE))
        .unwrap_or_else(|e| panic!("print's output does not type: {e}\n{printed}"));
    assert!(
        same_settings(&back, &cfg),
        "{back:#?}\n!=\n{cfg:#?}\n{printed}"
    );
    assert!(back.warnings.is_empty(), "{:?}\n{printed}", back.warnings);
    assert_eq!(print(&back), printed, "print is not stable");
});
