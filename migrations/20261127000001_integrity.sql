-- Integrity: repositories are identified by (url, branch); every read carries a generation so
-- that an older read never overwrites a newer one; unusable files and the last good entities
-- they keep are marked with the reason; a conflict keeps what the claimant defines, so that a
-- reference given up passes to the next claimant in the same transaction.

ALTER TABLE repos DROP CONSTRAINT repos_url_key;
ALTER TABLE repos ADD CONSTRAINT repos_url_branch UNIQUE NULLS NOT DISTINCT (url, branch);
-- Bumped by every apply of the repository; an apply names the generation its read started from.
ALTER TABLE repos ADD COLUMN generation BIGINT NOT NULL DEFAULT 0;

-- NULL: the file read cleanly at its blob. Otherwise why it is unusable (errors, a symbolic link,
-- too large, beyond the descriptor limit); its last good entities are kept.
ALTER TABLE descriptor_files ADD COLUMN problem TEXT;

-- NULL: the entity is what its file says at the tip. Otherwise why it is a last good copy.
ALTER TABLE entities ADD COLUMN stale_reason TEXT;

-- Conflicts now name the claimant's document and keep what it defines.
ALTER TABLE conflicts DROP CONSTRAINT conflicts_pkey;
ALTER TABLE conflicts ADD COLUMN claimant_document_index INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conflicts ADD COLUMN claimant_commit TEXT NOT NULL DEFAULT '';
ALTER TABLE conflicts ADD COLUMN claimant_stale_reason TEXT;
-- The claimant's definition (the store's own JSON shape of an entity); NULL only for rows
-- written before this migration, which the next read of the claimant's file replaces.
ALTER TABLE conflicts ADD COLUMN claimant_entity JSONB;
ALTER TABLE conflicts ADD PRIMARY KEY (entity_ref, claimant_repo_id, claimant_path, claimant_document_index);
-- Old conflict rows have no definition to hand over: read their files again on the next crawl.
UPDATE descriptor_files d SET blob_oid = '' FROM conflicts c WHERE c.claimant_repo_id = d.repo_id AND c.claimant_path = d.path;
UPDATE repos SET last_commit = NULL WHERE id IN (SELECT claimant_repo_id FROM conflicts);
DELETE FROM conflicts;
-- Conflict diagnostics are derived from the conflicts table now.
DELETE FROM diagnostics WHERE code = 'S0404';

-- Re-resolving the relations that name a reference or alias whose holder changed.
CREATE INDEX relations_target_ref ON relations (target_ref);
