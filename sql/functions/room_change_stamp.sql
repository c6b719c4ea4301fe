-- A text that changes whenever anything the free time of room p_room within p_near depends on
-- changes, except the clock: the count and row versions (xmin) of its slot-holding bookings
-- overlapping p_near (any write makes a new row version with a newer transaction id; a booking
-- that starts or stops holding its slot changes the count), and the row versions of the room,
-- its institution, its weekly rules and its closures. The 409's alternatives, all within a week
-- of the request, are cached by it (booking_conflict.sql, book.sql,
-- booking/reservations/service.py). Read only when a slot is taken: bookings pay nothing for it.
DROP FUNCTION IF EXISTS room_change_stamp(uuid);
CREATE OR REPLACE FUNCTION room_change_stamp(p_room uuid, p_near tstzrange) RETURNS text
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN concat_ws(':',
        (SELECT count(*) || '.' || coalesce(sum(b.xmin::text::bigint), 0)
         FROM bookings b WHERE b.room_id = p_room AND b.holds_slot AND b.during && p_near),
        (SELECT rm.xmin::text || '/' || i.xmin::text
         FROM rooms rm JOIN institutions i ON i.id = rm.institution_id WHERE rm.id = p_room),
        (SELECT string_agg(ar.xmin::text, ',' ORDER BY ar.xmin::text)
         FROM availability_rules ar WHERE ar.room_id = p_room),
        (SELECT string_agg(c.xmin::text, ',' ORDER BY c.xmin::text)
         FROM closures c WHERE c.room_id = p_room));
END
$$;
