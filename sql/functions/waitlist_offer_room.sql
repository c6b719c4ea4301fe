-- Offers for one room's free waitlisted ranges, in queue order (entry id): the first waiting
-- entry whose range no slot-holding booking overlaps gets an `offered` booking (which holds the
-- slot: booking_no_overlap decides, a 23P01 just means someone else got there) held until
-- least(p_now + 2 h, halfway to the start). Consumes the room's wakeups. Entries starting within
-- 10 minutes are not offered; citizens suspended or capped by then are skipped. Answers the
-- offered bookings. Offer makers of one room take turns on the same lock as book() inserts.
CREATE OR REPLACE FUNCTION waitlist_offer_room(p_room uuid, p_now timestamptz)
RETURNS SETOF uuid
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    w record;
    v_booking uuid;
    v_expires timestamptz;
BEGIN
    PERFORM pg_advisory_xact_lock(31, hashtext(p_room::text));
    DELETE FROM waitlist_wakeups WHERE room_id = p_room;
    FOR w IN
        SELECT e.id, e.during, e.citizen_id FROM waitlist_entries e
        WHERE e.room_id = p_room AND e.status = 'waiting'
          AND lower(e.during) > p_now + interval '10 minutes'
          AND NOT EXISTS (SELECT 1 FROM bookings b
                          WHERE b.room_id = p_room AND b.during && e.during AND b.holds_slot)
        ORDER BY e.id
        FOR UPDATE OF e SKIP LOCKED
    LOOP
        -- An earlier entry of this loop may have taken (part of) this range already.
        CONTINUE WHEN EXISTS (SELECT 1 FROM bookings b
                              WHERE b.room_id = p_room AND b.during && w.during AND b.holds_slot);
        BEGIN
            PERFORM booking_check_allocation(w.citizen_id, p_room, lower(w.during),
                                             upper(w.during), p_now, NULL);
        EXCEPTION WHEN SQLSTATE 'NBSUS' OR SQLSTATE 'NBPOL' THEN
            UPDATE waitlist_entries SET status = 'skipped', updated_at = p_now WHERE id = w.id;
            CONTINUE;
        END;
        BEGIN
            INSERT INTO bookings (room_id, citizen_id, during, status, attendees, created_at,
                                  updated_at)
            VALUES (p_room, w.citizen_id, w.during, 'offered', 1, p_now, p_now)
            RETURNING id INTO v_booking;
        EXCEPTION WHEN exclusion_violation THEN
            CONTINUE;
        END;
        v_expires := least(p_now + interval '2 hours', p_now + (lower(w.during) - p_now) / 2);
        UPDATE waitlist_entries
        SET status = 'offered', offer_booking_id = v_booking, offer_expires_at = v_expires,
            updated_at = p_now
        WHERE id = w.id;
        INSERT INTO booking_history (booking_id, actor_id, from_status, to_status, during, reason, at)
        VALUES (v_booking, NULL, NULL, 'offered', w.during, 'waitlist offer', p_now);
        INSERT INTO outbox (topic, booking_id, created_at) VALUES ('booking.offered', v_booking, p_now);
        RETURN NEXT v_booking;
    END LOOP;
END
$$;
