-- Background jobs: one row per notification effect (sent once) and jobs that exhausted their
-- retries.

-- Every e-mail the worker sends has a delivery key (e.g. outbox:42:confirmation:<user>).
-- Order: record 'sending' -> SMTP accepts -> mark 'sent'. A retry skips keys already 'sent'.
CREATE TABLE deliveries (
    delivery_key  text NOT NULL,
    kind          text NOT NULL,
    booking_id    uuid REFERENCES bookings (id) ON DELETE CASCADE,
    recipient     text NOT NULL,
    status        text NOT NULL DEFAULT 'sending',
    attempts      integer NOT NULL DEFAULT 1,
    last_error    text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    sent_at       timestamptz,
    CONSTRAINT deliveries_pkey PRIMARY KEY (delivery_key),
    CONSTRAINT deliveries_status_valid CHECK (status IN ('sending', 'sent', 'failed')),
    CONSTRAINT deliveries_sent_has_time CHECK ((status = 'sent') = (sent_at IS NOT NULL)),
    CONSTRAINT deliveries_attempts_positive CHECK (attempts > 0)
);
CREATE INDEX deliveries_booking ON deliveries (booking_id);

-- A job that failed on its last try; `python -m booking jobs retry ID` enqueues it again.
CREATE TABLE failed_jobs (
    id          bigint GENERATED ALWAYS AS IDENTITY,
    job_id      text NOT NULL,
    job_name    text NOT NULL,
    args        jsonb NOT NULL DEFAULT '[]',
    error       text NOT NULL,
    attempts    integer NOT NULL,
    failed_at   timestamptz NOT NULL DEFAULT now(),
    retried_at  timestamptz,
    CONSTRAINT failed_jobs_pkey PRIMARY KEY (id),
    CONSTRAINT failed_jobs_args_array CHECK (jsonb_typeof(args) = 'array')
);
CREATE INDEX failed_jobs_open ON failed_jobs (failed_at) WHERE retried_at IS NULL;

-- The relay's sweep looks for rows claimed long ago and never dispatched.
CREATE INDEX outbox_claimed_undispatched ON outbox (claimed_at)
    WHERE dispatched_at IS NULL AND claimed_at IS NOT NULL;
