-- The body of a 409 slot-taken in one call: the slot-holding ranges overlapping [p_start, p_end)
-- (p_exclude aside; booking_conflicts.sql), and up to three alternatives. `stamp`
-- (room_change_stamp.sql) changes whenever anything the alternatives depend on changes, except
-- the clock. A caller that already holds the alternatives for `p_known` gets NULL alternatives
-- when the stamp is still p_known, and skips their computation. One snapshot for all of it (a
-- STABLE function runs in its caller's snapshot).
CREATE OR REPLACE FUNCTION booking_conflict(
    p_room uuid, p_start timestamptz, p_end timestamptz, p_exclude uuid, p_known text
) RETURNS TABLE (stamp text, conflicts tstzrange[], alternatives tstzrange[])
LANGUAGE plpgsql STABLE AS $$
BEGIN
    -- Alternatives are searched within a week of the request (booking_alternatives.sql).
    stamp := room_change_stamp(p_room, tstzrange(p_start - interval '8 days', p_end + interval '8 days', '[)'));
    conflicts := booking_conflicts(p_room, tstzrange(p_start, p_end, '[)'), p_exclude);
    IF p_known IS DISTINCT FROM stamp THEN
        SELECT coalesce(array_agg(tstzrange(a.alt_start, a.alt_end, '[)') ORDER BY a.n), '{}')
        INTO alternatives
        FROM booking_alternatives(p_room, p_start, p_end, 3) WITH ORDINALITY AS a(alt_start, alt_end, n);
    END IF;
    RETURN NEXT;
END
$$;
