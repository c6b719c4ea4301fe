-- The outbox records processing, not only dispatch: the job that handled a row sets
-- processed_at when it is done (its notices sent, or its last failure stored in failed_jobs).
-- A row dispatched but never processed (its job lost inside Redis: a restart without
-- persistence, a flush) is dispatched again by the sweep, under the same job id and so the
-- same delivery keys: a notice already sent is skipped.
ALTER TABLE outbox ADD COLUMN processed_at timestamptz;

-- Rows dispatched before this migration count as processed (their jobs ran long ago).
UPDATE outbox SET processed_at = dispatched_at WHERE dispatched_at IS NOT NULL;

-- The sweep looks for rows dispatched long ago and never processed.
CREATE INDEX outbox_dispatched_unprocessed ON outbox (dispatched_at)
    WHERE dispatched_at IS NOT NULL AND processed_at IS NULL;
