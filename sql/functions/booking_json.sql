-- The JSON a citizen sees for one of their bookings (the POST /v1/bookings answer body), times in
-- the offset of the room's institution timezone p_tz, like every other answer; `fee` is the price
-- quote p_fee (booking_fee_of.sql; book() passes the quote of the room it already read), or the
-- room's quote read here when not given.
DROP FUNCTION IF EXISTS booking_json(bookings);
DROP FUNCTION IF EXISTS booking_json(bookings, text);
CREATE OR REPLACE FUNCTION booking_json(b bookings, p_tz text, p_fee json DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql STABLE AS $$
BEGIN
    -- PL/pgSQL so that its plan is cached per session (book() builds every answer with it).
    RETURN json_build_object(
            'id', b.id,
            'status', b.status,
            'room_id', b.room_id,
            'start', rfc3339_local(lower(b.during), p_tz),
            'end', rfc3339_local(upper(b.during), p_tz),
            'purpose', b.purpose,
            'purpose_public', b.purpose_public,
            'attendees', b.attendees,
            'sequence', b.sequence,
            'created_at', rfc3339_local(b.created_at, p_tz),
            'updated_at', rfc3339_local(b.updated_at, p_tz),
            'fee', coalesce(p_fee, booking_fee(b.room_id, lower(b.during), upper(b.during)))
        )::text;
END
$$;
