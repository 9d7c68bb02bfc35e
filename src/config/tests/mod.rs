//! Tests of the configuration module: syntax, typing, real files, environment, round trip.

mod env;
mod files;
mod roundtrip;
mod syntax;
mod typed;

use std::path::Path;

use super::parser::{parse_bytes, Setting};
use super::{from_settings, Config, Error};

/// The path the in-memory tests pretend to read from.
const FILE: &str = "/etc/enftun/enf0.conf";

/// Parses and types configuration text as if read from `FILE`.
fn typed(text: &str) -> Result<Config, String> {
    let settings: Vec<Setting> = parse_bytes(text.as_bytes()).map_err(|e| e.to_string())?;
    from_settings(&settings, Path::new(FILE)).map_err(|e: Error| e.to_string())
}

use crate::testdata::{fixture, vector};
