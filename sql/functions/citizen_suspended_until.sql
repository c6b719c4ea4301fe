-- When a citizen's suspension ends, or NULL if they are not suspended at p_now. Derived from the
-- strikes alone: a strike that brings the unforgiven weight of the 90 days up to it to 3 or more
-- suspends for 30 days from that strike. Forgiving a strike therefore lifts a suspension it
-- caused; strikes older than 90 days no longer count.
CREATE OR REPLACE FUNCTION citizen_suspended_until(p_citizen uuid, p_now timestamptz)
RETURNS timestamptz
LANGUAGE plpgsql STABLE AS $$
BEGIN
    -- PL/pgSQL so that its plan is cached per session (book() asks it on every booking).
    RETURN (
    SELECT max(s.at + interval '30 days')
        FROM strikes s
        WHERE s.citizen_id = p_citizen AND s.forgiven_at IS NULL
          AND s.at <= p_now AND s.at > p_now - interval '30 days'
          AND (SELECT sum(t.weight) FROM strikes t
               WHERE t.citizen_id = p_citizen AND t.forgiven_at IS NULL
                 AND t.at <= s.at AND t.at > s.at - interval '90 days') >= 3
    );
END
$$;
