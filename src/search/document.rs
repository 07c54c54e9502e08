//! Search documents on the wire: Meilisearch document ids (entity references encoded to
//! `[A-Za-z0-9_-]`, at most 511 bytes, collision-free) and the document sent for an entity.
