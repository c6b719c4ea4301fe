-- The draw's winners become bookings through booking_no_overlap like every booking: one INSERT
-- each, in a subtransaction so that a slot someone else holds (23P01) only leaves that winner
-- without a booking (NULL). Writes the history rows; the draw's own outbox rows tell everyone.
CREATE OR REPLACE FUNCTION allocation_book_winners(
    p_room uuid, p_citizens uuid[], p_starts timestamptz[], p_ends timestamptz[], p_status text,
    p_now timestamptz
) RETURNS TABLE (ordinal integer, booking_id uuid)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    i integer;
    v_booking uuid;
BEGIN
    PERFORM pg_advisory_xact_lock(31, hashtext(p_room::text));
    FOR i IN 1 .. coalesce(array_length(p_citizens, 1), 0) LOOP
        BEGIN
            INSERT INTO bookings (room_id, citizen_id, during, status, attendees, purpose,
                                  created_at, updated_at)
            VALUES (p_room, p_citizens[i], tstzrange(p_starts[i], p_ends[i], '[)'), p_status, 1,
                    '', p_now, p_now)
            RETURNING id INTO v_booking;
            INSERT INTO booking_history (booking_id, actor_id, from_status, to_status, during,
                                         reason, at)
            VALUES (v_booking, NULL, NULL, p_status, tstzrange(p_starts[i], p_ends[i], '[)'),
                    'won in lottery draw', p_now);
        EXCEPTION WHEN exclusion_violation THEN
            v_booking := NULL;
        END;
        ordinal := i;
        booking_id := v_booking;
        RETURN NEXT;
    END LOOP;
END
$$;
