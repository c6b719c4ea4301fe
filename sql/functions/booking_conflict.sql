-- The body of a 409 slot-taken in one call: the slot-holding ranges overlapping [p_start, p_end)
-- (p_exclude aside), and up to three alternatives. `stamp` changes whenever anything the
-- alternatives depend on changes, except the clock: the room's booking version (bumped by every
-- booking change, sql/0040), and the row versions (xmin) of the room, its institution, its
-- weekly rules and its closures. A caller that already holds the alternatives for `p_known`
-- gets NULL alternatives when the stamp is still p_known, and skips their computation.
-- One snapshot for all of it (a STABLE function runs in its caller's snapshot).
CREATE OR REPLACE FUNCTION booking_conflict(
    p_room uuid, p_start timestamptz, p_end timestamptz, p_exclude uuid, p_known text
) RETURNS TABLE (stamp text, conflicts tstzrange[], alternatives tstzrange[])
LANGUAGE plpgsql STABLE AS $$
BEGIN
    stamp := concat_ws(':',
        coalesce((SELECT v.version FROM room_feed_versions v WHERE v.room_id = p_room), 0),
        (SELECT rm.xmin::text || '/' || i.xmin::text
         FROM rooms rm JOIN institutions i ON i.id = rm.institution_id WHERE rm.id = p_room),
        (SELECT string_agg(ar.xmin::text, ',' ORDER BY ar.xmin::text)
         FROM availability_rules ar WHERE ar.room_id = p_room),
        (SELECT string_agg(c.xmin::text, ',' ORDER BY c.xmin::text)
         FROM closures c WHERE c.room_id = p_room));
    SELECT coalesce(array_agg(t.during ORDER BY lower(t.during)), '{}') INTO conflicts
    FROM (
        SELECT b.during FROM bookings b
        WHERE b.room_id = p_room AND b.during && tstzrange(p_start, p_end, '[)')
          AND b.holds_slot
          AND (p_exclude IS NULL OR b.id <> p_exclude)
        ORDER BY lower(b.during)
        LIMIT 10
    ) t;
    IF p_known IS DISTINCT FROM stamp THEN
        SELECT coalesce(array_agg(tstzrange(a.alt_start, a.alt_end, '[)') ORDER BY a.n), '{}')
        INTO alternatives
        FROM booking_alternatives(p_room, p_start, p_end, 3) WITH ORDINALITY AS a(alt_start, alt_end, n);
    END IF;
    RETURN NEXT;
END
$$;
