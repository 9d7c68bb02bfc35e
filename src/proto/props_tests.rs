//! Property tests for the codec: frames survive encode, arbitrary chunking and decode.
