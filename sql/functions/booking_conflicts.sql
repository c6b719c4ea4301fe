-- The slot-holding bookings of room p_room overlapping p_during (p_exclude aside), as ranges in
-- time order, at most ten: what a 409 slot-taken names (never who holds them). Empty when the
-- range is free, which is how book() checks for a committed conflict before anything else.
CREATE OR REPLACE FUNCTION booking_conflicts(p_room uuid, p_during tstzrange, p_exclude uuid)
RETURNS tstzrange[]
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (
        SELECT coalesce(array_agg(t.during ORDER BY lower(t.during)), '{}')
        FROM (
            SELECT b.during FROM bookings b
            WHERE b.room_id = p_room AND b.during && p_during AND b.holds_slot
              AND (p_exclude IS NULL OR b.id <> p_exclude)
            ORDER BY lower(b.during)
            LIMIT 10
        ) t
    );
END
$$;
