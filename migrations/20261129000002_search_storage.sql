-- Search storage: a search reads the `lexemes` of many rows, and the `document` of a page's hits
-- only. A row longer than Postgres's TOAST threshold (about 2 kB) had its largest value moved out
-- of line, which was most often the lexemes, so that every candidate of a search cost reads in
-- the TOAST table (about ten times the cost of an inline value). Now the document leaves the
-- row first (uncompressed: it is read whole, for a few rows), and the lexemes stay in it
-- (compressed, then moved out, only when the row is still too long: an API's long definition).
-- The rebuild's fresh tables copy these settings (`LIKE ... INCLUDING ALL`); rows written
-- before take them when they are next written or the index is rebuilt.
ALTER TABLE search_documents
    ALTER COLUMN document SET STORAGE EXTERNAL,
    ALTER COLUMN lexemes SET STORAGE MAIN;
