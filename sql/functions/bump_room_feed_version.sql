-- Bumps room_feed_versions (sql/0040) on every insert, update or delete of a room's bookings, in
-- the writing transaction, so the public feeds' ETag is one primary-key read instead of a scan of
-- the window. The row lock orders concurrent bumps: a version is never reused.
CREATE OR REPLACE FUNCTION bump_room_feed_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO room_feed_versions AS v (room_id, version, changed_at)
        VALUES (OLD.room_id, 1, now())
        ON CONFLICT (room_id) DO UPDATE SET version = v.version + 1, changed_at = now();
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.room_id IS DISTINCT FROM OLD.room_id) THEN
        INSERT INTO room_feed_versions AS v (room_id, version, changed_at)
        VALUES (NEW.room_id, 1, now())
        ON CONFLICT (room_id) DO UPDATE SET version = v.version + 1, changed_at = now();
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER bookings_bump_room_feed_version
    AFTER INSERT OR UPDATE OR DELETE ON bookings
    FOR EACH ROW EXECUTE FUNCTION bump_room_feed_version();
