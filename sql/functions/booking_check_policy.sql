-- Every rule of the room's booking policy for [p_start, p_end). A broken rule is raised with
-- SQLSTATE NBPOL and the rule's name as CONSTRAINT (booking/errors.py maps both); an unknown room
-- with NBNFD. Answers the status a new booking gets (pending when the room requires approval) and
-- the institution's timezone (answers are written in its offset).
DROP FUNCTION IF EXISTS booking_check_policy(uuid, timestamptz, timestamptz, integer, timestamptz);
CREATE OR REPLACE FUNCTION booking_check_policy(
    p_room uuid, p_start timestamptz, p_end timestamptz, p_attendees integer, p_now timestamptz,
    OUT new_status text, OUT timezone text
)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    r record;
    v_minutes numeric;
    v_local_start timestamp;
    v_local_end timestamp;
BEGIN
    SELECT rm.active, rm.capacity, rm.slot_minutes, rm.min_minutes, rm.max_minutes,
           rm.lead_minutes, rm.horizon_days, rm.requires_approval, i.timezone
    INTO r
    FROM rooms rm JOIN institutions i ON i.id = rm.institution_id
    WHERE rm.id = p_room;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'NBNFD', CONSTRAINT = 'room', MESSAGE = 'No such room.';
    END IF;
    IF NOT r.active THEN
        RAISE EXCEPTION USING ERRCODE = 'NBPOL', CONSTRAINT = 'room_inactive',
            MESSAGE = 'This room does not take bookings at the moment.';
    END IF;
    IF p_end <= p_start THEN
        RAISE EXCEPTION USING ERRCODE = 'NBPOL', CONSTRAINT = 'end_before_start',
            MESSAGE = 'end must be after start.';
    END IF;
    -- Slots are counted from local midnight of the institution's timezone.
    v_local_start := p_start AT TIME ZONE r.timezone;
    v_local_end := p_end AT TIME ZONE r.timezone;
    IF extract(epoch FROM v_local_start - date_trunc('day', v_local_start)) % (r.slot_minutes * 60) <> 0
       OR extract(epoch FROM v_local_end - date_trunc('day', v_local_end)) % (r.slot_minutes * 60) <> 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'NBPOL', CONSTRAINT = 'slot_alignment',
            MESSAGE = format('start and end must fall on %s-minute slots (local time %s).',
                             r.slot_minutes, r.timezone);
    END IF;
    v_minutes := extract(epoch FROM p_end - p_start) / 60;
    IF v_minutes < r.min_minutes THEN
        RAISE EXCEPTION USING ERRCODE = 'NBPOL', CONSTRAINT = 'min_duration',
            MESSAGE = format('Bookings of this room last at least %s minutes.', r.min_minutes);
    END IF;
    IF v_minutes > r.max_minutes THEN
        RAISE EXCEPTION USING ERRCODE = 'NBPOL', CONSTRAINT = 'max_duration',
            MESSAGE = format('Bookings of this room last at most %s minutes.', r.max_minutes);
    END IF;
    IF p_start < p_now + make_interval(mins => r.lead_minutes) THEN
        RAISE EXCEPTION USING ERRCODE = 'NBPOL', CONSTRAINT = 'lead_time',
            MESSAGE = format('Book at least %s minutes before the start.', r.lead_minutes);
    END IF;
    IF p_start > p_now + make_interval(days => r.horizon_days) THEN
        RAISE EXCEPTION USING ERRCODE = 'NBPOL', CONSTRAINT = 'horizon',
            MESSAGE = format('This room takes bookings at most %s days ahead.', r.horizon_days);
    END IF;
    -- A capacity that is not published (NULL, imported open data) checks nothing: the room's
    -- managers are asked to complete it (GET /v1/institutions/{id}/rooms-to-complete).
    IF p_attendees > r.capacity THEN
        RAISE EXCEPTION USING ERRCODE = 'NBPOL', CONSTRAINT = 'capacity',
            MESSAGE = format('This room holds at most %s people.', r.capacity);
    END IF;
    IF NOT room_is_open(p_room, tstzrange(p_start, p_end, '[)')) THEN
        RAISE EXCEPTION USING ERRCODE = 'NBPOL', CONSTRAINT = 'outside_opening_hours',
            MESSAGE = 'The room is not open for the whole range (opening hours, closures, holidays).';
    END IF;
    new_status := CASE WHEN r.requires_approval THEN 'pending' ELSE 'confirmed' END;
    timezone := r.timezone;
END
$$;
