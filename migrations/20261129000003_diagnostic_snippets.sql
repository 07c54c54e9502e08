-- The text of the line each diagnostic points at, kept when a crawl parses the file (at most 240
-- characters: a longer line is cut around the diagnostic's column, with "…" on each cut side), so
-- that the dashboard shows the offending line without reading git. NULL for diagnostics about a
-- whole file or a repository's tree, and for rows written before this column.
ALTER TABLE diagnostics ADD COLUMN snippet TEXT;
-- Backfill: the files whose diagnostics point at a line forget their blob id, so that the next
-- crawl of their repository reads it again (even at the same tip) and parses them again, which
-- stores their lines; nothing else changes for them.
UPDATE descriptor_files f SET blob_oid = ''
WHERE EXISTS (SELECT 1 FROM diagnostics d WHERE d.repo_id = f.repo_id AND d.file_path = f.path AND d.line > 0);
