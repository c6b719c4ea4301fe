-- Open-data files uploaded on the admin page (issue 12) and the job that imports each one.
-- The file is kept as uploaded (content, at most 10 MB: booking/catalogue/import_jobs.py), so
-- the job, its retries and a retry after a failure read the same bytes from the same database
-- that records the progress; nothing lives on a disk the worker might not share.
-- The job writes the importer's planned rows in batches: each batch commits together with
-- rows_written (where the next batch starts), rows_done (rows of the file accounted for, what
-- the progress bar shows) and report (the importer's report so far, JSON), so a job run twice
-- (arq is at-least-once) continues where the last commit left off and counts nothing twice.
CREATE TABLE open_data_imports (
    id            uuid NOT NULL DEFAULT gen_random_uuid(),
    uploaded_by   uuid REFERENCES users (id) ON DELETE SET NULL,
    filename      text NOT NULL,
    region        text,
    content       bytea NOT NULL,
    size_bytes    integer NOT NULL,
    status        text NOT NULL DEFAULT 'queued',
    rows_total    integer NOT NULL,
    rows_done     integer NOT NULL DEFAULT 0,
    rows_written  integer NOT NULL DEFAULT 0,
    report        jsonb,
    error         text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    started_at    timestamptz,
    finished_at   timestamptz,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT open_data_imports_pkey PRIMARY KEY (id),
    CONSTRAINT open_data_imports_status_valid
        CHECK (status IN ('queued', 'running', 'done', 'failed')),
    CONSTRAINT open_data_imports_size CHECK (size_bytes > 0 AND size_bytes = octet_length(content)),
    CONSTRAINT open_data_imports_progress
        CHECK (rows_total > 0 AND rows_done BETWEEN 0 AND rows_total AND rows_written >= 0),
    CONSTRAINT open_data_imports_done_has_report
        CHECK (status <> 'done' OR (report IS NOT NULL AND finished_at IS NOT NULL)),
    CONSTRAINT open_data_imports_filename_length CHECK (char_length(filename) <= 200)
);
-- The import page lists the recent ones; the worker's sweep looks for unfinished ones.
CREATE INDEX open_data_imports_recent ON open_data_imports (created_at DESC);
CREATE INDEX open_data_imports_unfinished ON open_data_imports (updated_at)
    WHERE status IN ('queued', 'running');
