//! The libconfig syntax: every feature, each scalar form, and malformed input with its exact error.

use super::super::parser::{self, parse_bytes, Item, Pos, Setting, Value};
use super::fixture;

/// The single value of `a = ...`.
fn value_of(text: &str) -> Result<Value, String> {
    let mut settings = parse_bytes(text.as_bytes()).map_err(|e| e.to_string())?;
    match settings.pop() {
        Some(Setting { value, .. }) if settings.is_empty() => Ok(value),
        _ => Err("not exactly one setting".to_string()),
    }
}

#[test]
fn scalars() {
    let s = |v: &str| Value::Str(v.to_string());
    let table: Vec<(&str, Value)> = vec![
        ("a = 1", Value::Int(1)),
        ("a = -5L", Value::Int(-5)),
        ("a = +7LL;", Value::Int(7)),
        ("a = 0x1f", Value::Int(31)),
        ("a = 0X1FLL", Value::Int(31)),
        ("a = 0xFFFFFFFF", Value::Int(4_294_967_295)),
        ("a = 9223372036854775807", Value::Int(i64::MAX)),
        ("a = -9223372036854775808", Value::Int(i64::MIN)),
        ("a = 007", Value::Int(7)),
        ("a = 1.5", Value::Float(1.5)),
        ("a = -.5", Value::Float(-0.5)),
        ("a = 1e3", Value::Float(1000.0)),
        ("a = 2E-2", Value::Float(0.02)),
        ("a = 1.", Value::Float(1.0)),
        ("a = 1.e1", Value::Float(10.0)),
        ("a = TrUe", Value::Bool(true)),
        ("a = FALSE", Value::Bool(false)),
        ("a = \"x\" \"y\"", s("xy")),
        ("a = \"x\" # c\n /* c */ // c\n \"y\";", s("xy")),
        (
            "a : \"q\\\"\\\\\\n\\r\\t\\f\\x41\\X42\"",
            s("q\"\\\n\r\t\x0cAB"),
        ),
        // Unknown escapes keep their backslash, as libconfig does (a Windows-style path).
        ("a = \"C:\\data\"", s("C:\\data")),
        ("a = \"\\x4\"", s("\\x4")),
        ("a = \"two\nlines\"", s("two\nlines")),
        ("a = \"caf\u{e9}\"", s("caf\u{e9}")),
        ("a = \"\"", s("")),
        ("a = []", Value::Array(vec![])),
        ("a = ()", Value::List(vec![])),
        ("a = {}", Value::Group(vec![])),
    ];
    for (text, want) in table {
        assert_eq!(value_of(text), Ok(want), "{text:?}");
    }
}

#[test]
fn every_feature_parses_with_positions() {
    let settings = parser::parse(&fixture("every-feature.conf")).expect("fixture parses");
    let names: Vec<(&str, u32, u32)> = settings
        .iter()
        .map(|s| (s.name.as_str(), s.pos.line, s.pos.col))
        .collect();
    let want = vec![
        ("version", 4, 23),
        ("tun", 6, 1),
        ("remote", 14, 1),
        ("route", 23, 1),
        ("identity", 32, 1),
        ("unknown_top", 38, 1),
    ];
    assert_eq!(names, want);
    let Value::Group(identity) = &settings[4].value else {
        panic!("identity is a group")
    };
    let Value::Group(extra) = &identity[2].value else {
        panic!("extra is a group")
    };
    let Value::List(nested) = &extra[0].value else {
        panic!("nested is a list")
    };
    let at = |line, col| Pos { line, col };
    let want = vec![
        Item {
            pos: at(35, 24),
            value: Value::Int(1),
        },
        Item {
            pos: at(35, 27),
            value: Value::Float(2.5),
        },
        Item {
            pos: at(35, 32),
            value: Value::Float(-300.0),
        },
        Item {
            pos: at(35, 38),
            value: Value::Float(0.5),
        },
        Item {
            pos: at(35, 42),
            value: Value::Float(10.0),
        },
        Item {
            pos: at(35, 48),
            value: Value::Array(vec![
                Item {
                    pos: at(35, 50),
                    value: Value::Bool(true),
                },
                Item {
                    pos: at(35, 56),
                    value: Value::Bool(false),
                },
            ]),
        },
        Item {
            pos: at(35, 65),
            value: Value::Group(vec![Setting {
                name: "a".to_string(),
                pos: at(35, 67),
                value: Value::Int(255),
            }]),
        },
    ];
    assert_eq!(nested, &want);
}

#[test]
fn malformed_input_says_where_and_what() {
    let deep = format!("a = {}", "(".repeat(40));
    let table: Vec<(&str, &str)> = vec![
        ("a = ", "1:5: expected a value, found end of file"),
        (
            "a = 1 b",
            "1:8: expected `=` or `:` after `b`, found end of file",
        ),
        ("a 1", "1:3: expected `=` or `:` after `a`, found integer 1"),
        ("= 1", "1:1: expected a setting name, found `=`"),
        ("true = 1", "1:1: expected a setting name, found `true`"),
        ("a = { } }", "1:9: expected a setting name, found `}`"),
        ("a = \"abc", "1:5: unterminated string"),
        ("a = 1 /* x", "1:7: unterminated /* comment"),
        (
            "a = [1, \"x\"]",
            "1:9: array elements must have one type: found a string after an integer",
        ),
        (
            "a = [1, 2.0]",
            "1:9: array elements must have one type: found a float after an integer",
        ),
        ("a = [1, 2,]", "1:11: trailing `,` before `]`"),
        ("a = (1, 2,)", "1:11: trailing `,` before `)`"),
        ("a = [1 2]", "1:8: expected `,` or `]`, found integer 2"),
        (
            "a = [[1]]",
            "1:6: an array holds only scalars, found an array; use ( ) for a list",
        ),
        (
            "a = [{}]",
            "1:6: an array holds only scalars, found a group; use ( ) for a list",
        ),
        ("a = { b = 1; ", "1:14: `{` opened at 1:5 is never closed"),
        ("a = (1, 2", "1:10: `(` opened at 1:5 is never closed"),
        ("a = [\n1,\n", "3:1: `[` opened at 1:5 is never closed"),
        (
            "a = 1; a = 2;",
            "1:8: duplicate setting `a` (first set on line 1)",
        ),
        (
            "g = { a = 1;\n a = 2; }",
            "2:2: duplicate setting `a` (first set on line 1)",
        ),
        ("a = 12ab", "1:5: invalid number `12ab`"),
        ("a = 1.2.3", "1:5: invalid number `1.2.3`"),
        ("a = -0x10", "1:5: invalid number `-0x10`"),
        ("a = 0x", "1:5: invalid number `0x`"),
        (
            "a = 99999999999999999999",
            "1:5: number `99999999999999999999` is out of range",
        ),
        (
            "a = 0xFFFFFFFFFFFFFFFF",
            "1:5: number `0xFFFFFFFFFFFFFFFF` is out of range",
        ),
        (
            "a = 0x10000000000000000",
            "1:5: number `0x10000000000000000` is out of range",
        ),
        ("a = 1e999", "1:5: number `1e999` is out of range"),
        (
            "a = default",
            "1:5: expected a value, found `default` (strings need double quotes: \"default\")",
        ),
        ("a = ;", "1:5: expected a value, found `;`"),
        ("a = @", "1:5: unexpected character \"@\""),
        ("a = .", "1:5: unexpected character \".\""),
        ("a = -", "1:5: unexpected character \"-\""),
        ("a = 1 / 2", "1:7: unexpected character \"/\""),
        ("a = \u{1}", "1:5: unexpected character \"\\u{1}\""),
        (
            "@include \"other.conf\"",
            "1:1: @include is not supported: put the settings in this file",
        ),
        ("a = \"\\xff\"", "1:5: string is not valid UTF-8"),
        (
            "a = \"\u{e9}\" b",
            "1:10: expected `=` or `:` after `b`, found end of file",
        ),
        (
            "tun : {\n  dev = \"x\"\n  port = ;\n}",
            "3:10: expected a value, found `;`",
        ),
        (
            "a = 1;\r\nb c",
            "2:3: expected `=` or `:` after `b`, found `c`",
        ),
        (&deep, "1:37: nested deeper than 32 levels"),
    ];
    for (text, want) in table {
        let got = parse_bytes(text.as_bytes())
            .map(|_| ())
            .map_err(|e| e.to_string());
        assert_eq!(got, Err(want.to_string()), "{text:?}");
    }
    assert_eq!(
        parse_bytes(b"a = \"\xff\"").map_err(|e| e.to_string()),
        Err("1:5: string is not valid UTF-8".into())
    );
    assert_eq!(
        parse_bytes(b"a = 1 \xff").map_err(|e| e.to_string()),
        Err("1:7: unexpected character byte 0xff".into())
    );
}

#[test]
fn an_empty_file_and_comments_only_are_fine() {
    for text in ["", "\n\n", "# nothing\n// here\n/* at all */"] {
        assert_eq!(parse_bytes(text.as_bytes()), Ok(vec![]), "{text:?}");
    }
}

#[test]
fn a_huge_file_is_refused() {
    let big = vec![b' '; (parser::MAX_FILE_BYTES + 1) as usize];
    let got = parser::parse_reader(&big[..])
        .map(|_| ())
        .map_err(|e| e.to_string());
    assert_eq!(got, Err("larger than 1048576 bytes".to_string()));
}

proptest::proptest! {
    #[test]
    fn never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
        let _ = parse_bytes(&bytes);
    }

    #[test]
    fn never_panics_on_syntax_soup(text in "[a-z =:;,{}\\[\\]()\"#/*\\\\\n0-9.xeL+-]{0,120}") {
        let _ = parse_bytes(text.as_bytes());
    }
}
