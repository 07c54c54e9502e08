-- Indexes for the API's entity lists: keyset pages in each order, with or without a kind, and
-- the filters on system, domain, type, lifecycle, labels and stale copies.

-- Pages of one kind in reference order (the kind alone is served by this index too).
CREATE INDEX entities_kind_ref ON entities (kind, entity_ref);
DROP INDEX entities_kind;
-- Pages in name and title order (src/store/read.rs: SortField).
CREATE INDEX entities_name_ref ON entities (name, entity_ref);
CREATE INDEX entities_title_ref ON entities ((coalesce(title, name)), entity_ref);
CREATE INDEX entities_system ON entities (system_ref);
CREATE INDEX entities_domain ON entities (domain_ref);
CREATE INDEX entities_type ON entities (lower(type));
CREATE INDEX entities_lifecycle ON entities (lower(lifecycle));
-- `labels: ["key=value"]` (@>) and `labels: ["key"]` (?) on the document's labels.
CREATE INDEX entities_labels ON entities USING GIN ((document #> '{metadata,labels}'));
-- The last good copies kept for unusable files (few).
CREATE INDEX entities_stale ON entities (id) WHERE stale_reason IS NOT NULL;
