//! Property tests for the back-off schedule: bounds, growth and reset.
