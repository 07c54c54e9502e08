//! The integration test suite, compiled as one binary to keep link times down.

mod api_graph;
mod bad_input;
mod catalog_cli;
mod cli;
mod corpus;
mod crawl;
mod crawl_exclusive;
mod crawl_faults;
mod crawl_hostile;
mod credentials;
mod db;
mod embedded_db;
mod git;
mod golden_upstream;
mod hooks;
mod https;
mod integrity;
mod jobs;
mod model;
mod replicas;
mod schemas;
mod server;
mod sources_cli;
mod support;
