//! The HTTP server: the axum router (/graphql, /healthz, /readyz, /metrics, /hooks/*), its
//! limits and middleware, metrics, and graceful shutdown.
