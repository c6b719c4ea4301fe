-- The booking policy of room p_room for [p_start, p_end) (the rules: booking_policy_status.sql),
-- for callers that have not read the room yet (reschedule_booking, book_walk_in). An unknown room
-- is raised with NBNFD. Answers the status a new booking gets and the institution's timezone
-- (answers are written in its offset).
DROP FUNCTION IF EXISTS booking_check_policy(uuid, timestamptz, timestamptz, integer, timestamptz);
CREATE OR REPLACE FUNCTION booking_check_policy(
    p_room uuid, p_start timestamptz, p_end timestamptz, p_attendees integer, p_now timestamptz,
    OUT new_status text, OUT timezone text
)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    c record;
BEGIN
    SELECT rm AS room, i.timezone AS tz, (rm.closed_on_holidays OR i.closed_on_holidays) AS holiday_closed
    INTO c
    FROM rooms rm JOIN institutions i ON i.id = rm.institution_id
    WHERE rm.id = p_room;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'NBNFD', CONSTRAINT = 'room', MESSAGE = 'No such room.';
    END IF;
    new_status := booking_policy_status(c.room, c.tz, c.holiday_closed, p_start, p_end,
                                        p_attendees, p_now);
    timezone := c.tz;
END
$$;
