-- The catalog: repositories, crawl runs, the descriptor files read from each repository, the
-- entities they define, relations (with an explicit unresolved target for dangling
-- references), per-file diagnostics and ownership conflicts.

CREATE TABLE repos (
    id              BIGSERIAL PRIMARY KEY,
    -- The source as configured (a URL or a local path), without credentials.
    url             TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    -- The configured branch; NULL follows the remote's HEAD.
    branch          TEXT,
    -- Tip commit of the last successful read, and when it happened.
    last_commit     TEXT,
    last_crawled_at TIMESTAMPTZ,
    -- new: never read; ok: last read succeeded; stale: last read failed, entities kept.
    status          TEXT NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'ok', 'stale')),
    error           TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE crawl_runs (
    id               BIGSERIAL PRIMARY KEY,
    started_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at      TIMESTAMPTZ,
    repos_crawled    INTEGER NOT NULL DEFAULT 0,
    repos_unchanged  INTEGER NOT NULL DEFAULT 0,
    repos_failed     INTEGER NOT NULL DEFAULT 0,
    entities_added   INTEGER NOT NULL DEFAULT 0,
    entities_updated INTEGER NOT NULL DEFAULT 0,
    entities_removed INTEGER NOT NULL DEFAULT 0,
    conflicts        INTEGER NOT NULL DEFAULT 0,
    diagnostics      INTEGER NOT NULL DEFAULT 0
);

-- Every descriptor file of each repository's last good read, with its blob id: a file whose
-- blob is unchanged is not parsed again.
CREATE TABLE descriptor_files (
    repo_id  BIGINT NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
    path     TEXT NOT NULL,
    blob_oid TEXT NOT NULL,
    -- Whether the file read without errors (an invalid file keeps its last good entities).
    valid    BOOLEAN NOT NULL,
    PRIMARY KEY (repo_id, path)
);

CREATE TABLE entities (
    id             BIGSERIAL PRIMARY KEY,
    entity_ref     TEXT NOT NULL UNIQUE,
    kind           TEXT NOT NULL,
    namespace      TEXT NOT NULL,
    name           TEXT NOT NULL,
    title          TEXT,
    description    TEXT,
    type           TEXT,
    lifecycle      TEXT,
    tier           SMALLINT,
    owner_ref      TEXT,
    system_ref     TEXT,
    domain_ref     TEXT,
    tags           TEXT[] NOT NULL DEFAULT '{}',
    aliases        TEXT[] NOT NULL DEFAULT '{}',
    document       JSONB NOT NULL,
    repo_id        BIGINT NOT NULL REFERENCES repos (id),
    file_path      TEXT NOT NULL,
    document_index INTEGER NOT NULL,
    line           INTEGER NOT NULL,
    format         TEXT NOT NULL CHECK (format IN ('backstage', 'compass')),
    commit_id      TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX entities_repo ON entities (repo_id, file_path);
CREATE INDEX entities_owner ON entities (owner_ref);
CREATE INDEX entities_kind ON entities (kind);

-- Each alias an entity answers to (a Compass component id, or an ARI listed in the
-- `sextant.dev/aliases` annotation), for resolving alias targets with a btree lookup.
CREATE TABLE entity_aliases (
    alias     TEXT NOT NULL,
    entity_id BIGINT NOT NULL REFERENCES entities (id) ON DELETE CASCADE,
    PRIMARY KEY (alias, entity_id)
);
CREATE INDEX entity_aliases_entity ON entity_aliases (entity_id);
CREATE INDEX entities_tags ON entities USING GIN (tags);

-- Declared edges only; inverses are derived when queried. `target_id` is NULL while the target
-- (an entity reference, or an alias such as a Compass ARI) is not in the catalog.
CREATE TABLE relations (
    source_id  BIGINT NOT NULL REFERENCES entities (id) ON DELETE CASCADE,
    type       TEXT NOT NULL,
    target_ref TEXT NOT NULL,
    target_id  BIGINT REFERENCES entities (id) ON DELETE SET NULL,
    line       INTEGER NOT NULL,
    PRIMARY KEY (source_id, type, target_ref)
);
CREATE INDEX relations_target ON relations (target_id, type);
CREATE INDEX relations_dangling ON relations (target_ref) WHERE target_id IS NULL;
-- Every resolved dependency edge, for whole-graph walks with an index-only scan (the predicate
-- must match the one in src/store/graph.rs word for word).
CREATE INDEX relations_dependency_edges ON relations (type, source_id, target_id)
    WHERE target_id IS NOT NULL AND type IN ('dependsOn', 'consumesApi', 'dependencyOf', 'providesApi');

CREATE TABLE diagnostics (
    id        BIGSERIAL PRIMARY KEY,
    repo_id   BIGINT NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
    file_path TEXT NOT NULL,
    line      INTEGER NOT NULL,
    col       INTEGER NOT NULL,
    code      TEXT NOT NULL,
    severity  TEXT NOT NULL,
    message   TEXT NOT NULL,
    hint      TEXT
);
CREATE INDEX diagnostics_repo ON diagnostics (repo_id, file_path);

-- A reference claimed by a second source. The holder keeps the entity; the claimant is named.
CREATE TABLE conflicts (
    entity_ref       TEXT NOT NULL,
    holder_repo_id   BIGINT NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
    holder_path      TEXT NOT NULL,
    claimant_repo_id BIGINT NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
    claimant_path    TEXT NOT NULL,
    claimant_line    INTEGER NOT NULL,
    first_seen_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (entity_ref, claimant_repo_id, claimant_path)
);
CREATE INDEX conflicts_claimant ON conflicts (claimant_repo_id, claimant_path);

-- Bumped by every apply, in the apply's transaction: readers that keep a copy of the graph in
-- memory know whether it is still current.
CREATE TABLE catalog_state (
    version BIGINT NOT NULL
);
INSERT INTO catalog_state (version) VALUES (0);
