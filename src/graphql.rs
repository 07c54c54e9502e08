//! The GraphQL API: the schema (split by concern and merged), the per-request snapshot and
//! DataLoaders, limits, and error codes. Built at the edge from the store's typed results.
