//! sextant: a developer-portal component catalog. This crate holds everything; `main.rs` only
//! dispatches to [`cli`].

pub mod bench;
pub mod cli;
pub mod config;
pub mod crawler;
pub mod demo;
pub mod descriptor;
pub mod domain;
pub mod graphql;
pub mod http;
pub mod ingest;
pub mod jobs;
pub mod pg;
pub mod pr_check;
pub mod reconcile;
pub mod search;
pub mod store;
pub mod terminal;
pub mod validate;
pub mod web;
