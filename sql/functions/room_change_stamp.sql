-- A text that changes whenever anything a room's free time depends on changes, except the clock:
-- the room's booking version (bumped by every booking change, sql/0040), and the row versions
-- (xmin) of the room, its institution, its weekly rules and its closures. The 409's alternatives
-- are cached by it (booking_conflict.sql, booking/reservations/service.py).
CREATE OR REPLACE FUNCTION room_change_stamp(p_room uuid) RETURNS text
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN concat_ws(':',
        coalesce((SELECT v.version FROM room_feed_versions v WHERE v.room_id = p_room), 0),
        (SELECT rm.xmin::text || '/' || i.xmin::text
         FROM rooms rm JOIN institutions i ON i.id = rm.institution_id WHERE rm.id = p_room),
        (SELECT string_agg(ar.xmin::text, ',' ORDER BY ar.xmin::text)
         FROM availability_rules ar WHERE ar.room_id = p_room),
        (SELECT string_agg(c.xmin::text, ',' ORDER BY c.xmin::text)
         FROM closures c WHERE c.room_id = p_room));
END
$$;
