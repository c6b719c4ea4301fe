-- The allocation rules of a new claim by p_citizen on [p_start, p_end) of p_room, checked in the
-- transaction that writes it (book(), accepting an offer, the draw's eligibility):
-- - suspended citizens are refused (SQLSTATE NBSUS, CONSTRAINT = the end of the suspension);
-- - lottery rooms keep the slots of a published, undrawn round for the draw (NBPOL lottery_slot);
-- - monthly caps per room and per institution, counted per calendar month of the start in the
--   institution's timezone over the citizen's bookings that are not cancelled or rejected
--   (NBPOL monthly_cap / institution_monthly_cap). p_exclude leaves one booking out (an offer
--   being accepted counts once).
CREATE OR REPLACE FUNCTION booking_check_allocation(
    p_citizen uuid, p_room uuid, p_start timestamptz, p_end timestamptz, p_now timestamptz,
    p_exclude uuid
) RETURNS void
LANGUAGE plpgsql STABLE AS $$
DECLARE
    r record;
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
    SELECT rm.allocation_mode, rm.monthly_cap_per_citizen AS room_cap, rm.institution_id,
           i.monthly_cap_per_citizen AS institution_cap, i.timezone
    INTO r
    FROM rooms rm JOIN institutions i ON i.id = rm.institution_id WHERE rm.id = p_room;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF r.allocation_mode = 'lottery' AND EXISTS (
        SELECT 1 FROM allocation_slots s JOIN allocation_rounds ar ON ar.id = s.round_id
        WHERE s.room_id = p_room AND s.during && tstzrange(p_start, p_end, '[)')
          AND ar.published_at IS NOT NULL AND ar.drawn_at IS NULL
    ) THEN
        RAISE EXCEPTION USING ERRCODE = 'NBPOL', CONSTRAINT = 'lottery_slot',
            MESSAGE = 'This time is allocated by lottery; apply in its round instead.';
    END IF;
    IF r.room_cap IS NULL AND r.institution_cap IS NULL THEN
        RETURN;
    END IF;
    v_month_start := date_trunc('month', p_start AT TIME ZONE r.timezone) AT TIME ZONE r.timezone;
    v_month_end := (date_trunc('month', p_start AT TIME ZONE r.timezone) + interval '1 month')
                   AT TIME ZONE r.timezone;
    IF r.room_cap IS NOT NULL THEN
        SELECT count(*) INTO v_count FROM bookings b
        WHERE b.citizen_id = p_citizen AND b.room_id = p_room
          AND lower(b.during) >= v_month_start AND lower(b.during) < v_month_end
          AND b.status NOT IN ('cancelled', 'rejected')
          AND b.id IS DISTINCT FROM p_exclude;
        IF v_count >= r.room_cap THEN
            RAISE EXCEPTION USING ERRCODE = 'NBPOL', CONSTRAINT = 'monthly_cap',
                MESSAGE = format('You may book this room at most %s times a month.', r.room_cap);
        END IF;
    END IF;
    IF r.institution_cap IS NOT NULL THEN
        SELECT count(*) INTO v_count FROM bookings b JOIN rooms rm ON rm.id = b.room_id
        WHERE b.citizen_id = p_citizen AND rm.institution_id = r.institution_id
          AND lower(b.during) >= v_month_start AND lower(b.during) < v_month_end
          AND b.status NOT IN ('cancelled', 'rejected')
          AND b.id IS DISTINCT FROM p_exclude;
        IF v_count >= r.institution_cap THEN
            RAISE EXCEPTION USING ERRCODE = 'NBPOL', CONSTRAINT = 'institution_monthly_cap',
                MESSAGE = format('You may book rooms of this institution at most %s times a month.',
                                 r.institution_cap);
        END IF;
    END IF;
END
$$;
