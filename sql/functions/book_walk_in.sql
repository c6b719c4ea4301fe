-- A walk-in booking made at the front desk (booking/reservations/desk.py decides who may): the
-- room's policy as for any booking, except the lead time (the person is at the desk; the start
-- may still not be in the past), no per-citizen limits (the person has no account). Confirmed
-- at once (the manager is the one who would approve). The INSERT meets booking_no_overlap like
-- every booking: 23P01 means the slot is taken. Writes history and a booking.created outbox row,
-- so a person who gave an e-mail address gets the confirmation with its invitation.
CREATE OR REPLACE FUNCTION book_walk_in(
    p_desk uuid, p_room uuid, p_start timestamptz, p_end timestamptz, p_attendees integer,
    p_purpose text, p_name text, p_phone text, p_email text
) RETURNS uuid
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_now timestamptz := now();
    v_lead integer;
    v_status text;
    v_tz text;
    v_id uuid;
BEGIN
    SELECT rm.lead_minutes INTO v_lead FROM rooms rm WHERE rm.id = p_room;
    IF p_start < v_now THEN
        RAISE EXCEPTION USING ERRCODE = 'NBPOL', CONSTRAINT = 'lead_time',
            MESSAGE = 'A walk-in booking cannot start in the past.';
    END IF;
    -- Every rule but the lead time: the policy is checked as if it were lead minutes earlier.
    SELECT p.new_status, p.timezone INTO v_status, v_tz
    FROM booking_check_policy(p_room, p_start, p_end, p_attendees,
                              v_now - make_interval(mins => coalesce(v_lead, 0))) AS p;
    PERFORM pg_advisory_xact_lock(31, hashtext(p_room::text));
    INSERT INTO bookings (room_id, citizen_id, during, status, purpose, purpose_public, attendees,
                          created_at, updated_at, walk_in_name, walk_in_phone, walk_in_email)
    VALUES (p_room, p_desk, tstzrange(p_start, p_end, '[)'), 'confirmed', coalesce(p_purpose, ''),
            false, p_attendees, v_now, v_now, btrim(p_name), btrim(p_phone),
            nullif(btrim(coalesce(p_email, '')), ''))
    RETURNING id INTO v_id;
    INSERT INTO booking_history (booking_id, actor_id, from_status, to_status, during, reason, at)
    VALUES (v_id, p_desk, NULL, 'confirmed', tstzrange(p_start, p_end, '[)'), 'walk-in', v_now);
    INSERT INTO outbox (topic, booking_id, created_at) VALUES ('booking.created', v_id, v_now);
    RETURN v_id;
END
$$;
