-- The outbox relay no longer gets a NOTIFY per booking. NOTIFY takes a database-wide lock at
-- commit and holds it through the WAL flush, so every booking transaction committed one after
-- another (no group commit): about a third of the booking throughput. The relay polls the outbox
-- every 200 ms (workers/relay.py, POLL_SECONDS), which meets its p95 <= 2 s delivery target;
-- it still LISTENs on "outbox", so anything may wake it early with NOTIFY outbox.
DROP TRIGGER outbox_notify ON outbox;
DROP FUNCTION outbox_notify();
