//! Tests of credential loading.
