//! The integration test suite, compiled as one binary to keep link times down.

mod corpus;
mod golden_upstream;
mod support;
