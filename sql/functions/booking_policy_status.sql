-- Every rule of a room's booking policy for [p_start, p_end), given the room's row, its
-- institution's timezone and whether it closes on public holidays: the one home of these rules.
-- booking_check_policy() reads the room and calls it; book() passes the row it already read
-- (one read of the room per booking). A broken rule is raised with SQLSTATE NBPOL and the rule's
-- name as CONSTRAINT (booking/errors.py maps both). Answers the status a new booking gets
-- (pending when the room requires approval).
CREATE OR REPLACE FUNCTION booking_policy_status(
    rm rooms, p_tz text, p_holiday_closed boolean, p_start timestamptz, p_end timestamptz,
    p_attendees integer, p_now timestamptz
) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_minutes numeric;
    v_local_start timestamp;
    v_local_end timestamp;
BEGIN
    -- Every check below is a plain expression (no query): PL/pgSQL evaluates those without
    -- starting an executor, so the rules cost microseconds; room_open_in() is the one query.
    IF NOT rm.active THEN
        RAISE EXCEPTION USING ERRCODE = 'NBPOL', CONSTRAINT = 'room_inactive',
            MESSAGE = 'This room does not take bookings at the moment.';
    END IF;
    IF p_end <= p_start THEN
        RAISE EXCEPTION USING ERRCODE = 'NBPOL', CONSTRAINT = 'end_before_start',
            MESSAGE = 'end must be after start.';
    END IF;
    -- Slots are counted from local midnight of the institution's timezone.
    v_local_start := p_start AT TIME ZONE p_tz;
    v_local_end := p_end AT TIME ZONE p_tz;
    IF extract(epoch FROM v_local_start - date_trunc('day', v_local_start)) % (rm.slot_minutes * 60) <> 0
       OR extract(epoch FROM v_local_end - date_trunc('day', v_local_end)) % (rm.slot_minutes * 60) <> 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'NBPOL', CONSTRAINT = 'slot_alignment',
            MESSAGE = format('start and end must fall on %s-minute slots (local time %s).',
                             rm.slot_minutes, p_tz);
    END IF;
    v_minutes := extract(epoch FROM p_end - p_start) / 60;
    IF v_minutes < rm.min_minutes THEN
        RAISE EXCEPTION USING ERRCODE = 'NBPOL', CONSTRAINT = 'min_duration',
            MESSAGE = format('Bookings of this room last at least %s minutes.', rm.min_minutes);
    END IF;
    IF v_minutes > rm.max_minutes THEN
        RAISE EXCEPTION USING ERRCODE = 'NBPOL', CONSTRAINT = 'max_duration',
            MESSAGE = format('Bookings of this room last at most %s minutes.', rm.max_minutes);
    END IF;
    IF p_start < p_now + make_interval(mins => rm.lead_minutes) THEN
        RAISE EXCEPTION USING ERRCODE = 'NBPOL', CONSTRAINT = 'lead_time',
            MESSAGE = format('Book at least %s minutes before the start.', rm.lead_minutes);
    END IF;
    IF p_start > p_now + make_interval(days => rm.horizon_days) THEN
        RAISE EXCEPTION USING ERRCODE = 'NBPOL', CONSTRAINT = 'horizon',
            MESSAGE = format('This room takes bookings at most %s days ahead.', rm.horizon_days);
    END IF;
    -- A capacity that is not published (NULL, imported open data) checks nothing: the room's
    -- managers are asked to complete it (GET /v1/institutions/{id}/rooms-to-complete).
    IF p_attendees > rm.capacity THEN
        RAISE EXCEPTION USING ERRCODE = 'NBPOL', CONSTRAINT = 'capacity',
            MESSAGE = format('This room holds at most %s people.', rm.capacity);
    END IF;
    IF NOT room_open_in(rm.id, p_tz, p_holiday_closed, tstzrange(p_start, p_end, '[)')) THEN
        RAISE EXCEPTION USING ERRCODE = 'NBPOL', CONSTRAINT = 'outside_opening_hours',
            MESSAGE = 'The room is not open for the whole range (opening hours, closures, holidays).';
    END IF;
    RETURN CASE WHEN rm.requires_approval THEN 'pending' ELSE 'confirmed' END;
END
$$;
