//! The integration test suite, compiled as one binary to keep link times down.

mod bad_input;
mod catalog_cli;
mod cli;
mod corpus;
mod crawl;
mod crawl_faults;
mod db;
mod git;
mod golden_upstream;
mod schemas;
mod support;
