//! The Postgres job queue: crawl and forget jobs from hooks, mutations and the schedule,
//! claimed with `FOR UPDATE SKIP LOCKED` under a lease, so that several replicas share the work.
