//! The Prometheus text exposition format (version 0.0.4), written by hand (pure).
//!
//! Each family gets its `# HELP` and `# TYPE` lines once, then its samples. Integers are written
//! as integers, so a byte counter past 2^53 is not rounded on our side; floats use Prometheus'
//! spellings of the special values. Help text and label values are escaped as the format says.

use std::fmt::Write;

/// The content type scrapers expect for this format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
}

/// A sample's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    Int(u64),
    Signed(i64),
    Float(f64),
}

impl From<u64> for Value {
    fn from(v: u64) -> Value {
        Value::Int(v)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::Signed(v)
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Value {
        Value::Float(v)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::Int(u64::from(v))
    }
}

/// A page of metrics being written.
#[derive(Debug, Default)]
pub struct Exposition {
    text: String,
}

impl Exposition {
    pub fn new() -> Exposition {
        Exposition::default()
    }

    /// Starts a family: its help and type lines.
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) -> &mut Self {
        let kind = match kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        };
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.text, "# HELP {name} {help}");
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
        self
    }

    /// One sample of the current family.
    pub fn sample(
        &mut self,
        name: &str,
        labels: &[(&str, &str)],
        value: impl Into<Value>,
    ) -> &mut Self {
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                let v = v
                    .replace('\\', "\\\\")
                    .replace('"', "\\\"")
                    .replace('\n', "\\n");
                let _ = write!(self.text, "{k}=\"{v}\"");
            }
            self.text.push('}');
        }
        self.text.push(' ');
        match value.into() {
            Value::Int(v) => {
                let _ = write!(self.text, "{v}");
            }
            Value::Signed(v) => {
                let _ = write!(self.text, "{v}");
            }
            Value::Float(v) if v.is_nan() => self.text.push_str("NaN"),
            Value::Float(v) if v == f64::INFINITY => self.text.push_str("+Inf"),
            Value::Float(v) if v == f64::NEG_INFINITY => self.text.push_str("-Inf"),
            Value::Float(v) => {
                let _ = write!(self.text, "{v}");
            }
        }
        self.text.push('\n');
        self
    }

    /// A family with a single unlabelled sample.
    pub fn single(
        &mut self,
        name: &str,
        kind: Kind,
        help: &str,
        value: impl Into<Value>,
    ) -> &mut Self {
        self.family(name, kind, help).sample(name, &[], value)
    }

    pub fn finish(self) -> String {
        self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_samples_and_escaping() {
        let mut e = Exposition::new();
        e.family(
            "enf_drops_total",
            Kind::Counter,
            "Dropped packets,\nby \\reason.",
        )
        .sample("enf_drops_total", &[("reason", "bad-src")], 3u64)
        .sample(
            "enf_drops_total",
            &[("reason", "a\"b\\c\nd"), ("x", "y")],
            u64::MAX,
        );
        e.single("enf_rtt_seconds", Kind::Gauge, "RTT.", 0.000125f64);
        e.single("enf_nan", Kind::Gauge, "n", f64::NAN);
        e.single("enf_inf", Kind::Gauge, "i", f64::NEG_INFINITY);
        e.single("enf_up", Kind::Gauge, "u", true);
        e.single("enf_age", Kind::Gauge, "a", -5i64);
        assert_eq!(
            e.finish(),
            "# HELP enf_drops_total Dropped packets,\\nby \\\\reason.\n\
             # TYPE enf_drops_total counter\n\
             enf_drops_total{reason=\"bad-src\"} 3\n\
             enf_drops_total{reason=\"a\\\"b\\\\c\\nd\",x=\"y\"} 18446744073709551615\n\
             # HELP enf_rtt_seconds RTT.\n\
             # TYPE enf_rtt_seconds gauge\n\
             enf_rtt_seconds 0.000125\n\
             # HELP enf_nan n\n# TYPE enf_nan gauge\nenf_nan NaN\n\
             # HELP enf_inf i\n# TYPE enf_inf gauge\nenf_inf -Inf\n\
             # HELP enf_up u\n# TYPE enf_up gauge\nenf_up 1\n\
             # HELP enf_age a\n# TYPE enf_age gauge\nenf_age -5\n"
        );
    }
}
