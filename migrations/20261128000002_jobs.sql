-- The job queue of `sextant serve`: crawls and forgets asked for by hooks, mutations and the
-- schedule, shared by every replica on this database. Workers claim queued jobs with
-- `FOR UPDATE SKIP LOCKED` and hold them under a lease that they renew; a job whose lease
-- expired (its replica died) is queued again and claimed by another worker.

CREATE TABLE jobs (
    id               BIGSERIAL PRIMARY KEY,
    kind             TEXT NOT NULL CHECK (kind IN ('crawl', 'forget')),
    -- The repository as stored or configured (url, branch); branch NULL follows HEAD. Not a
    -- foreign key: a configured repository is crawled before it is stored, and a forget
    -- deletes the row.
    url              TEXT NOT NULL,
    branch           TEXT,
    -- queued (waiting, possibly until run_after for a retry), running (under a lease),
    -- done, failed (for good: no attempts left, or nothing to retry).
    state            TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done', 'failed')),
    -- What asked for it: hook, mutation or schedule.
    trigger          TEXT NOT NULL CHECK (trigger IN ('hook', 'mutation', 'schedule')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL CHECK (max_attempts > 0),
    run_after        TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- The worker holding a running job, and until when.
    lease_owner      TEXT,
    lease_expires_at TIMESTAMPTZ,
    enqueued_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at       TIMESTAMPTZ,
    finished_at      TIMESTAMPTZ,
    -- The last attempt's result: applied, unchanged, superseded, forgotten, failed, not-found,
    -- refused, lease-expired; and a sentence about it.
    outcome          TEXT,
    detail           TEXT,
    CHECK ((state = 'running') = (lease_owner IS NOT NULL AND lease_expires_at IS NOT NULL))
);

-- Enqueuing is idempotent: one queued job of a kind per repository, so that a push delivered to
-- several replicas (or twice) is done once.
CREATE UNIQUE INDEX jobs_one_queued ON jobs (kind, url, branch) NULLS NOT DISTINCT WHERE state = 'queued';
-- At most one running job per repository, across replicas.
CREATE UNIQUE INDEX jobs_one_running ON jobs (url, branch) NULLS NOT DISTINCT WHERE state = 'running';
-- What workers look for: queued jobs by due time, and running jobs by lease expiry.
CREATE INDEX jobs_due ON jobs (run_after, id) WHERE state = 'queued';
CREATE INDEX jobs_leases ON jobs (lease_expires_at) WHERE state = 'running';
-- Pruning finished jobs.
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE state IN ('done', 'failed');

-- The crawl schedule: one row; the replica whose UPDATE moves next_run_at forward enqueues the
-- crawl of every source, so that several replicas enqueue it once.
CREATE TABLE job_schedule (
    id          SMALLINT PRIMARY KEY CHECK (id = 1),
    next_run_at TIMESTAMPTZ NOT NULL,
    last_run_at TIMESTAMPTZ
);
INSERT INTO job_schedule (id, next_run_at) VALUES (1, now());
