//! TLS for the ENF tunnel on both sides (being written).
