-- Once a round is published its commitment is public: nobody, admins included, may change the
-- seed, the pseudonym salt, the slots or the period, nor delete the round. The frozen list hash
-- and the draw time are written once; the public value may be entered once, before the draw.
-- Refused with SQLSTATE NBRND and the broken rule as CONSTRAINT (booking/errors.py maps it).
CREATE OR REPLACE FUNCTION allocation_round_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.published_at IS NOT NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'NBRND', CONSTRAINT = 'round_published',
                MESSAGE = 'A published round cannot be deleted.';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.published_at IS NOT NULL AND (
        NEW.seed IS DISTINCT FROM OLD.seed
        OR NEW.seed_commitment IS DISTINCT FROM OLD.seed_commitment
        OR NEW.pseudonym_salt IS DISTINCT FROM OLD.pseudonym_salt
        OR NEW.algorithm IS DISTINCT FROM OLD.algorithm
        OR NEW.room_id IS DISTINCT FROM OLD.room_id
        OR NEW.opens_at IS DISTINCT FROM OLD.opens_at
        OR NEW.closes_at IS DISTINCT FROM OLD.closes_at
        OR NEW.draw_at IS DISTINCT FROM OLD.draw_at
        OR NEW.max_applications_per_citizen IS DISTINCT FROM OLD.max_applications_per_citizen
        OR NEW.institution_monthly_win_cap IS DISTINCT FROM OLD.institution_monthly_win_cap
        OR NEW.public_value_required IS DISTINCT FROM OLD.public_value_required
        OR NEW.published_at IS DISTINCT FROM OLD.published_at
    ) THEN
        RAISE EXCEPTION USING ERRCODE = 'NBRND', CONSTRAINT = 'round_published',
            MESSAGE = 'A published round cannot change its seed, slots, period or rules.';
    END IF;
    IF OLD.seed IS DISTINCT FROM NEW.seed AND OLD.published_at IS NULL
       AND NEW.seed_commitment IS DISTINCT FROM sha256(NEW.seed) THEN
        RAISE EXCEPTION USING ERRCODE = 'NBRND', CONSTRAINT = 'seed_commitment',
            MESSAGE = 'The commitment must be the SHA-256 of the seed.';
    END IF;
    IF (OLD.list_hash IS NOT NULL AND NEW.list_hash IS DISTINCT FROM OLD.list_hash)
       OR (OLD.frozen_at IS NOT NULL AND NEW.frozen_at IS DISTINCT FROM OLD.frozen_at)
       OR (OLD.drawn_at IS NOT NULL AND NEW.drawn_at IS DISTINCT FROM OLD.drawn_at) THEN
        RAISE EXCEPTION USING ERRCODE = 'NBRND', CONSTRAINT = 'round_frozen',
            MESSAGE = 'The frozen application list and the draw are written once.';
    END IF;
    IF NEW.public_value IS DISTINCT FROM OLD.public_value
       AND (OLD.public_value IS NOT NULL OR OLD.drawn_at IS NOT NULL) THEN
        RAISE EXCEPTION USING ERRCODE = 'NBRND', CONSTRAINT = 'public_value_set',
            MESSAGE = 'The public value is entered once, before the draw.';
    END IF;
    RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER allocation_rounds_guard
    BEFORE UPDATE OR DELETE ON allocation_rounds
    FOR EACH ROW EXECUTE FUNCTION allocation_round_guard();
