-- Free time of a room within a window: its open time minus every booking that holds a slot.
-- Callers clip the window to the booking horizon and lead time.
CREATE OR REPLACE FUNCTION room_free_time(p_room uuid, p_window tstzrange) RETURNS tstzmultirange
LANGUAGE sql STABLE AS $$
    SELECT room_open_time(p_room, p_window)
           - coalesce((SELECT range_agg(b.during)
                       FROM bookings b
                       WHERE b.room_id = p_room AND b.during && p_window AND b.holds_slot),
                      '{}'::tstzmultirange)
$$;
