-- The allocation rules of a new claim by p_citizen on [p_start, p_end) of room p_room, given the
-- room's allocation mode, its and its institution's monthly caps and the institution's timezone
-- (p_mode NULL: no such room, nothing to check):
-- - suspended citizens are refused (SQLSTATE NBSUS, CONSTRAINT = the end of the suspension);
-- - lottery rooms keep the slots of a published, undrawn round for the draw (NBPOL lottery_slot);
-- - monthly caps per room and per institution, counted per calendar month of the start in the
--   institution's timezone over the citizen's bookings that are not cancelled or rejected
--   (NBPOL monthly_cap / institution_monthly_cap). p_exclude leaves one booking out (an offer
--   being accepted counts once).
-- booking_check_allocation() reads the room and calls this; book() passes what it already read.
CREATE OR REPLACE FUNCTION booking_allocation_rules(
    p_citizen uuid, p_room uuid, p_mode text, p_room_cap integer, p_institution uuid,
    p_institution_cap integer, p_tz text, p_start timestamptz, p_end timestamptz,
    p_now timestamptz, p_exclude uuid
) RETURNS void
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_until timestamptz;
    v_month_start timestamptz;
    v_month_end timestamptz;
    v_count integer;
BEGIN
    v_until := citizen_suspended_until(p_citizen, p_now);
    IF v_until IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'NBSUS', CONSTRAINT = rfc3339_utc(v_until),
            MESSAGE = format('Booking is suspended until %s after repeated no-shows.',
                             rfc3339_utc(v_until));
    END IF;
    IF p_mode IS NULL THEN
        RETURN;
    END IF;
    -- Nested, so that rooms without a lottery run no query here.
    IF p_mode = 'lottery' THEN
        IF EXISTS (
            SELECT 1 FROM allocation_slots s JOIN allocation_rounds ar ON ar.id = s.round_id
            WHERE s.room_id = p_room AND s.during && tstzrange(p_start, p_end, '[)')
              AND ar.published_at IS NOT NULL AND ar.drawn_at IS NULL
        ) THEN
            RAISE EXCEPTION USING ERRCODE = 'NBPOL', CONSTRAINT = 'lottery_slot',
                MESSAGE = 'This time is allocated by lottery; apply in its round instead.';
        END IF;
    END IF;
    IF p_room_cap IS NULL AND p_institution_cap IS NULL THEN
        RETURN;
    END IF;
    v_month_start := date_trunc('month', p_start AT TIME ZONE p_tz) AT TIME ZONE p_tz;
    v_month_end := (date_trunc('month', p_start AT TIME ZONE p_tz) + interval '1 month')
                   AT TIME ZONE p_tz;
    IF p_room_cap IS NOT NULL THEN
        SELECT count(*) INTO v_count FROM bookings b
        WHERE b.citizen_id = p_citizen AND b.room_id = p_room
          AND lower(b.during) >= v_month_start AND lower(b.during) < v_month_end
          AND b.status NOT IN ('cancelled', 'rejected')
          AND b.id IS DISTINCT FROM p_exclude;
        IF v_count >= p_room_cap THEN
            RAISE EXCEPTION USING ERRCODE = 'NBPOL', CONSTRAINT = 'monthly_cap',
                MESSAGE = format('You may book this room at most %s times a month.', p_room_cap);
        END IF;
    END IF;
    IF p_institution_cap IS NOT NULL THEN
        SELECT count(*) INTO v_count FROM bookings b JOIN rooms rm ON rm.id = b.room_id
        WHERE b.citizen_id = p_citizen AND rm.institution_id = p_institution
          AND lower(b.during) >= v_month_start AND lower(b.during) < v_month_end
          AND b.status NOT IN ('cancelled', 'rejected')
          AND b.id IS DISTINCT FROM p_exclude;
        IF v_count >= p_institution_cap THEN
            RAISE EXCEPTION USING ERRCODE = 'NBPOL', CONSTRAINT = 'institution_monthly_cap',
                MESSAGE = format('You may book rooms of this institution at most %s times a month.',
                                 p_institution_cap);
        END IF;
    END IF;
END
$$;
