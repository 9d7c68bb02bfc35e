//! Credentials (stub; filled in by the configuration work).
