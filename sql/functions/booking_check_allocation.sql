-- The allocation rules of a new claim by p_citizen on [p_start, p_end) of p_room, checked in the
-- transaction that writes it (the accepting of an offer, the draw's eligibility; book() calls
-- the rules, booking_allocation_rules.sql, with the room it already read). A room that does not
-- exist checks nothing here (the policy refuses it).
CREATE OR REPLACE FUNCTION booking_check_allocation(
    p_citizen uuid, p_room uuid, p_start timestamptz, p_end timestamptz, p_now timestamptz,
    p_exclude uuid
) RETURNS void
LANGUAGE plpgsql STABLE AS $$
DECLARE
    r record;
BEGIN
    SELECT rm.allocation_mode, rm.monthly_cap_per_citizen AS room_cap, rm.institution_id,
           i.monthly_cap_per_citizen AS institution_cap, i.timezone
    INTO r
    FROM rooms rm JOIN institutions i ON i.id = rm.institution_id WHERE rm.id = p_room;
    PERFORM booking_allocation_rules(
        p_citizen, p_room, r.allocation_mode, r.room_cap, r.institution_id, r.institution_cap,
        r.timezone, p_start, p_end, p_now, p_exclude);
END
$$;
