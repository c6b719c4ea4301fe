-- The one definition of "shut for a public holiday": each Korean public holiday from p_first to
-- p_last as the absolute range of that whole local day in p_tz. Callers ask it only for rooms
-- that close on holidays (the room's or its institution's closed_on_holidays). Inlined like
-- room_windows.
CREATE OR REPLACE FUNCTION holiday_ranges(p_tz text, p_first date, p_last date)
RETURNS TABLE (during tstzrange)
LANGUAGE sql STABLE AS $$
    SELECT tstzrange(h.day::timestamp AT TIME ZONE p_tz, (h.day + 1)::timestamp AT TIME ZONE p_tz, '[)')
    FROM public_holidays h
    WHERE h.country = 'KR' AND h.day BETWEEN p_first AND p_last
$$;
