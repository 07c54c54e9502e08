-- Search: the outbox that keeps the search index in step with the catalog, the state that
-- pauses delivery while a reindex runs, and the Postgres full-text backend's own tables.
--
-- The outbox is filled by triggers on `entities`, in the transaction of the change itself: every
-- path that changes an entity (a crawl's apply, a forget, a prune) enqueues it, and a change
-- that is rolled back enqueues nothing. One row per entity reference: a second change before
-- delivery bumps `version`, so the sync (which reads the entity's current state when it claims
-- the row) delivers the latest state once, and an acknowledgement of an older version leaves
-- the row for the next round.
--
-- Lock order: every statement that locks several outbox rows (the triggers' inserts, the sync's
-- acknowledgements and failures) locks them by `entity_ref`, so that a crawl and a sync never
-- wait on each other in a cycle. Claims skip locked rows and never wait.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE search_outbox (
    entity_ref   TEXT PRIMARY KEY,
    version      BIGINT NOT NULL DEFAULT 1,
    -- The oldest undelivered change of this reference: the index lag is now() - min(changed_at).
    changed_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Due from this time on: a failure moves it forward by the backoff, a new change back to now
    -- (it is new data: a backoff is for the state that failed).
    available_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Claimed by a sync until this time (the lease), under `claim_token`: another sync may take
    -- the row once the lease has run out. Acknowledgements and failures act only on rows still
    -- under their own claim's token, and clear both. A new change never touches them.
    claimed_until TIMESTAMPTZ,
    claim_token   BIGINT,
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT
);
-- Claim tokens (and reindex tokens): unique, so that a late answer of an expired claim matches nothing.
CREATE SEQUENCE search_tokens;
CREATE INDEX search_outbox_available ON search_outbox (available_at);
CREATE INDEX search_outbox_changed ON search_outbox (changed_at);

CREATE FUNCTION search_outbox_enqueue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO search_outbox (entity_ref)
            SELECT entity_ref FROM (SELECT DISTINCT entity_ref FROM new_rows) AS changed ORDER BY entity_ref
            ON CONFLICT (entity_ref) DO UPDATE SET version = search_outbox.version + 1, available_at = now();
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO search_outbox (entity_ref)
            SELECT entity_ref FROM (SELECT DISTINCT entity_ref FROM old_rows) AS changed ORDER BY entity_ref
            ON CONFLICT (entity_ref) DO UPDATE SET version = search_outbox.version + 1, available_at = now();
    ELSE
        -- Only changes of what the index holds: a recrawl that moves provenance (commit, line)
        -- enqueues nothing.
        INSERT INTO search_outbox (entity_ref)
            SELECT entity_ref FROM (SELECT DISTINCT refs.entity_ref
            FROM old_rows o JOIN new_rows n ON n.id = o.id
                 CROSS JOIN LATERAL (VALUES (o.entity_ref), (n.entity_ref)) AS refs (entity_ref)
            WHERE (o.entity_ref, o.title, o.description, o.type, o.lifecycle, o.tier, o.owner_ref, o.system_ref,
                   o.domain_ref, o.tags, o.document, o.repo_id)
                  IS DISTINCT FROM
                  (n.entity_ref, n.title, n.description, n.type, n.lifecycle, n.tier, n.owner_ref, n.system_ref,
                   n.domain_ref, n.tags, n.document, n.repo_id)) AS changed ORDER BY entity_ref
            ON CONFLICT (entity_ref) DO UPDATE SET version = search_outbox.version + 1, available_at = now();
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER entities_search_insert AFTER INSERT ON entities
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION search_outbox_enqueue();
CREATE TRIGGER entities_search_update AFTER UPDATE ON entities
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION search_outbox_enqueue();
CREATE TRIGGER entities_search_delete AFTER DELETE ON entities
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION search_outbox_enqueue();

-- A catalog migrated with entities in it indexes them all.
INSERT INTO search_outbox (entity_ref) SELECT entity_ref FROM entities;

-- One row. While `reindex_until` is in the future a reindex is running: the sync claims nothing
-- (what it would deliver to the old index would be missing from the new one). A reindex that
-- dies lets delivery resume when its lease runs out. `reindex_token` names the reindex that
-- holds the pause: only it may extend or end it.
CREATE TABLE search_state (
    id            SMALLINT PRIMARY KEY CHECK (id = 1),
    reindex_until TIMESTAMPTZ,
    reindex_token BIGINT
);
INSERT INTO search_state (id) VALUES (1);

-- The Postgres full-text backend. `lexemes` is built by sextant (its own tokenizer: folded
-- words with positions and weights, A name and title, B tags and labels, C description, owner
-- and system, D API definition text), so search does not depend on the database's locale.
CREATE TABLE search_documents (
    entity_ref  TEXT PRIMARY KEY,
    -- The indexed entity as JSON: what hits are highlighted from.
    document    JSONB NOT NULL,
    kind        TEXT NOT NULL,
    type        TEXT,
    namespace   TEXT NOT NULL,
    name        TEXT NOT NULL,
    owner       TEXT,
    lifecycle   TEXT,
    tier        SMALLINT,
    system      TEXT,
    domain      TEXT,
    repo        TEXT,
    tags        TEXT[] NOT NULL DEFAULT '{}',
    lexemes     TSVECTOR NOT NULL
);
CREATE INDEX search_documents_lexemes ON search_documents USING GIN (lexemes);
CREATE INDEX search_documents_name ON search_documents (name, entity_ref);

-- Every folded word of the index once: typo-tolerant terms are looked up here by trigram
-- similarity, then checked for edit distance, then searched as exact lexemes.
CREATE TABLE search_terms (
    term TEXT PRIMARY KEY
);
CREATE INDEX search_terms_trigrams ON search_terms USING GIN (term gin_trgm_ops);
