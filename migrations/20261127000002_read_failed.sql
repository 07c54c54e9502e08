-- Whether the repository's last read failed (as opposed to being stale because some file is
-- unusable): the next crawl reads it again even at the same tip, to work its state out anew.
ALTER TABLE repos ADD COLUMN read_failed BOOLEAN NOT NULL DEFAULT false;
UPDATE repos r SET read_failed = true
WHERE r.status = 'stale' AND NOT EXISTS (SELECT 1 FROM descriptor_files f WHERE f.repo_id = r.id AND f.problem IS NOT NULL);
