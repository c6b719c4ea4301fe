-- The slots of a published round are part of what was committed to: no insert, change or
-- delete (SQLSTATE NBRND, CONSTRAINT round_published).
CREATE OR REPLACE FUNCTION allocation_slot_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_round uuid := CASE WHEN TG_OP = 'DELETE' THEN OLD.round_id ELSE NEW.round_id END;
BEGIN
    IF EXISTS (SELECT 1 FROM allocation_rounds r WHERE r.id = v_round AND r.published_at IS NOT NULL)
       OR (TG_OP = 'UPDATE' AND EXISTS (SELECT 1 FROM allocation_rounds r
                                        WHERE r.id = OLD.round_id AND r.published_at IS NOT NULL)) THEN
        RAISE EXCEPTION USING ERRCODE = 'NBRND', CONSTRAINT = 'round_published',
            MESSAGE = 'The slots of a published round cannot change.';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END
$$;

CREATE OR REPLACE TRIGGER allocation_slots_guard
    BEFORE INSERT OR UPDATE OR DELETE ON allocation_slots
    FOR EACH ROW EXECUTE FUNCTION allocation_slot_guard();
