//! The status document: `Status` to JSON text and back (pure).
//!
//! Written with every key, one per line, `null` for what is unknown, so `cat` shows the same
//! shape every time. Read leniently where it costs nothing and strictly where it matters:
//! unknown keys are ignored (a newer writer may add some) and absent keys take their defaults,
//! except `state` and `updated`, without which health cannot be judged; a key with a value of
//! the wrong type or out of range is an error naming the key.

use super::json::{self, Value};
use super::{LossPolicy, State, Status};
use std::collections::BTreeMap;
use std::fmt::Write;

/// The document for `s`, ending with a newline.
pub fn to_json(s: &Status) -> String {
    let mut out = String::from("{");
    let mut first = true;
    let mut field = |out: &mut String, name: &str, value: &str| {
        out.push_str(if first { "\n  " } else { ",\n  " });
        first = false;
        json::push_string(out, name);
        out.push_str(": ");
        out.push_str(value);
    };
    let text = |v: &str| {
        let mut t = String::new();
        json::push_string(&mut t, v);
        t
    };
    let opt_text = |v: &Option<String>| v.as_deref().map_or("null".to_string(), text);
    let opt_num = |v: Option<String>| v.unwrap_or_else(|| "null".to_string());

    field(&mut out, "state", &text(s.state.as_str()));
    field(
        &mut out,
        "address",
        &opt_text(&s.address.map(|a| a.to_string())),
    );
    field(&mut out, "iface", &opt_text(&s.iface));
    field(&mut out, "server", &opt_text(&s.server));
    field(
        &mut out,
        "connected_since",
        &opt_num(s.connected_since.map(|v| v.to_string())),
    );
    field(&mut out, "reconnects", &s.reconnects.to_string());
    field(&mut out, "last_error", &opt_text(&s.last_error));
    field(&mut out, "rx_packets", &s.rx_packets.to_string());
    field(&mut out, "rx_bytes", &s.rx_bytes.to_string());
    field(&mut out, "tx_packets", &s.tx_packets.to_string());
    field(&mut out, "tx_bytes", &s.tx_bytes.to_string());
    let mut drops = String::from("{");
    for (i, (reason, n)) in s.drops.iter().enumerate() {
        drops.push_str(if i == 0 { "" } else { ", " });
        json::push_string(&mut drops, reason);
        let _ = write!(drops, ": {n}");
    }
    drops.push('}');
    field(&mut out, "drops", &drops);
    // JSON has no NaN or infinity: an RTT that is not a number is unknown.
    let rtt = s
        .heartbeat_rtt_ms
        .filter(|v| v.is_finite())
        .map(|v| v.to_string());
    field(&mut out, "heartbeat_rtt_ms", &opt_num(rtt));
    field(
        &mut out,
        "heartbeat_answered",
        &opt_num(s.heartbeat_answered.map(|v| v.to_string())),
    );
    field(
        &mut out,
        "last_rx",
        &opt_num(s.last_rx.map(|v| v.to_string())),
    );
    field(
        &mut out,
        "cert_not_after",
        &opt_num(s.cert_not_after.map(|v| v.to_string())),
    );
    field(&mut out, "data_plane", &s.data_plane.to_string());
    field(&mut out, "ever_up", &s.ever_up.to_string());
    field(&mut out, "on_tunnel_loss", &text(s.on_tunnel_loss.as_str()));
    field(&mut out, "updated", &s.updated.to_string());
    field(&mut out, "pid", &s.pid.to_string());
    out.push_str("\n}\n");
    out
}

/// The status in `input`, or what is wrong with it.
pub fn from_json(input: &[u8]) -> Result<Status, String> {
    let Value::Object(fields) = json::parse(input)? else {
        return Err("the document is not a JSON object".into());
    };
    let mut s = Status::default();
    let (mut have_state, mut have_updated) = (false, false);
    for (key, v) in &fields {
        let k = key.as_str();
        match k {
            "state" => {
                let name = string(k, v)?;
                s.state = State::parse(&name).ok_or_else(|| format!("unknown state {name:?}"))?;
                have_state = true;
            }
            "address" => {
                s.address = optional(v, |v| {
                    string(k, v)?
                        .parse()
                        .map_err(|_| format!("\"{k}\" is not an IPv6 address"))
                })?
            }
            "iface" => s.iface = optional(v, |v| string(k, v))?,
            "server" => s.server = optional(v, |v| string(k, v))?,
            "connected_since" => s.connected_since = optional(v, |v| unsigned(k, v))?,
            "reconnects" => s.reconnects = unsigned(k, v)?,
            "last_error" => s.last_error = optional(v, |v| string(k, v))?,
            "rx_packets" => s.rx_packets = unsigned(k, v)?,
            "rx_bytes" => s.rx_bytes = unsigned(k, v)?,
            "tx_packets" => s.tx_packets = unsigned(k, v)?,
            "tx_bytes" => s.tx_bytes = unsigned(k, v)?,
            "drops" => s.drops = drops(v)?,
            "heartbeat_rtt_ms" => s.heartbeat_rtt_ms = optional(v, |v| float(k, v))?,
            "heartbeat_answered" => s.heartbeat_answered = optional(v, |v| unsigned(k, v))?,
            "last_rx" => s.last_rx = optional(v, |v| unsigned(k, v))?,
            "cert_not_after" => s.cert_not_after = optional(v, |v| signed(k, v))?,
            "data_plane" => s.data_plane = boolean(k, v)?,
            "ever_up" => s.ever_up = boolean(k, v)?,
            "on_tunnel_loss" => {
                let name = string(k, v)?;
                s.on_tunnel_loss = LossPolicy::parse(&name)
                    .ok_or_else(|| format!("unknown on_tunnel_loss {name:?}"))?;
            }
            "updated" => {
                s.updated = unsigned(k, v)?;
                have_updated = true;
            }
            "pid" => {
                s.pid = u32::try_from(unsigned(k, v)?).map_err(|_| "\"pid\" is out of range")?
            }
            _ => {}
        }
    }
    match (have_state, have_updated) {
        (false, _) => Err("no \"state\"".into()),
        (_, false) => Err("no \"updated\"".into()),
        _ => Ok(s),
    }
}

fn boolean(key: &str, v: &Value) -> Result<bool, String> {
    match v {
        Value::Bool(b) => Ok(*b),
        _ => Err(format!("\"{key}\" is not true or false")),
    }
}

fn optional<T>(
    v: &Value,
    f: impl FnOnce(&Value) -> Result<T, String>,
) -> Result<Option<T>, String> {
    match v {
        Value::Null => Ok(None),
        v => f(v).map(Some),
    }
}

fn string(key: &str, v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        _ => Err(format!("\"{key}\" is not a string")),
    }
}

/// Digits only: a sign, fraction or exponent is not a counter.
fn unsigned(key: &str, v: &Value) -> Result<u64, String> {
    match v {
        Value::Number(t) if t.bytes().all(|b| b.is_ascii_digit()) => {
            t.parse().map_err(|_| format!("\"{key}\" is too large"))
        }
        _ => Err(format!("\"{key}\" is not a non-negative integer")),
    }
}

fn signed(key: &str, v: &Value) -> Result<i64, String> {
    match v {
        Value::Number(t)
            if t.trim_start_matches('-')
                .bytes()
                .all(|b| b.is_ascii_digit()) =>
        {
            t.parse().map_err(|_| format!("\"{key}\" is out of range"))
        }
        _ => Err(format!("\"{key}\" is not an integer")),
    }
}

fn float(key: &str, v: &Value) -> Result<f64, String> {
    match v {
        Value::Number(t) => t
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .ok_or_else(|| format!("\"{key}\" is out of range")),
        _ => Err(format!("\"{key}\" is not a number")),
    }
}

fn drops(v: &Value) -> Result<BTreeMap<String, u64>, String> {
    let Value::Object(fields) = v else {
        return Err("\"drops\" is not an object".into());
    };
    let mut out = BTreeMap::new();
    for (reason, n) in fields {
        out.insert(reason.clone(), unsigned(&format!("drops.{reason}"), n)?);
    }
    Ok(out)
}
