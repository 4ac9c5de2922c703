-- Job store schema: jobs and their queue state, the webhook outbox and wrapped content keys.
--
-- Portable between SQLite and PostgreSQL except one type: BLOB is BYTEA in PostgreSQL.
-- Timestamps are BIGINT Unix milliseconds in UTC. JSON columns are TEXT (JSONB would suit PostgreSQL).
-- Every integer column is BIGINT, so the store decodes integers as i64 on both backends.

CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    hash TEXT NOT NULL,
    source TEXT NOT NULL,
    options TEXT NOT NULL DEFAULT '{}',
    request_fingerprint TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'processing', 'completed', 'failed', 'cancelled')),
    progress BIGINT NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    callback_url TEXT,
    callback_status TEXT NOT NULL DEFAULT 'pending'
        CHECK (callback_status IN ('pending', 'sent', 'callback_failed')),
    retry_of_job_id TEXT REFERENCES jobs (id) ON DELETE SET NULL,
    error TEXT,
    results TEXT,
    attempts BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    lease_owner TEXT,
    lease_expires_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- At most one active (not failed, not cancelled) job per fingerprint: this index is what makes two
-- concurrent identical requests end in one job.
CREATE UNIQUE INDEX jobs_active_fingerprint_idx ON jobs (request_fingerprint)
    WHERE status IN ('queued', 'processing', 'completed');
CREATE INDEX jobs_hash_idx ON jobs (hash);
CREATE INDEX jobs_status_next_attempt_idx ON jobs (status, next_attempt_at);
CREATE INDEX jobs_retry_of_idx ON jobs (retry_of_job_id) WHERE retry_of_job_id IS NOT NULL;

-- Outbox of webhook deliveries. `body` holds the exact bytes that are signed and sent.
CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    body BLOB NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_expires_at BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- A job reaches one final outcome, so it has at most one delivery.
CREATE UNIQUE INDEX webhook_deliveries_job_idx ON webhook_deliveries (job_id);
CREATE INDEX webhook_deliveries_status_next_attempt_idx ON webhook_deliveries (status, next_attempt_at);

-- Content keys, wrapped by the caller (AES-GCM with the key-encryption key); the store keeps bytes only.
CREATE TABLE content_keys (
    hash TEXT PRIMARY KEY,
    wrapped_key BLOB NOT NULL,
    nonce BLOB NOT NULL,
    kek_version TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
