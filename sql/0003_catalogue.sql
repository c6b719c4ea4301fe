-- Catalogue: institutions, their managers, rooms, weekly windows, closures, public holidays.
CREATE TABLE institutions (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name                text NOT NULL,
    kind                text NOT NULL,
    region              text NOT NULL,
    district            text NOT NULL,
    address             text,
    latitude            double precision,
    longitude           double precision,
    phone               text,
    homepage            text,
    timezone            text NOT NULL DEFAULT 'Asia/Seoul',
    closed_on_holidays  boolean NOT NULL DEFAULT false,
    source_key          text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT institutions_kind_valid
        CHECK (kind IN ('city_hall', 'gu_office', 'community_center', 'library', 'other')),
    CONSTRAINT institutions_latitude_range CHECK (latitude BETWEEN -90 AND 90),
    CONSTRAINT institutions_longitude_range CHECK (longitude BETWEEN -180 AND 180),
    CONSTRAINT institutions_coordinates_pair CHECK ((latitude IS NULL) = (longitude IS NULL)),
    CONSTRAINT institutions_name_present CHECK (btrim(name) <> '')
);
CREATE UNIQUE INDEX institutions_source_key ON institutions (source_key) WHERE source_key IS NOT NULL;
CREATE INDEX institutions_region_district ON institutions (region, district);

CREATE TABLE institution_managers (
    institution_id  uuid NOT NULL REFERENCES institutions (id) ON DELETE CASCADE,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    appointed_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT institution_managers_pkey PRIMARY KEY (institution_id, user_id)
);
CREATE INDEX institution_managers_user ON institution_managers (user_id);

CREATE TABLE rooms (
    id                      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    institution_id          uuid NOT NULL REFERENCES institutions (id),
    name                    text NOT NULL,
    name_en                 text,
    kind                    text NOT NULL DEFAULT 'meeting_room',
    capacity                integer NOT NULL,
    area_m2                 numeric(10, 2),
    floor                   text,
    amenities               text[] NOT NULL DEFAULT '{}',
    accessibility           text[] NOT NULL DEFAULT '{}',
    photos                  text[] NOT NULL DEFAULT '{}',
    -- Fee in the shape of the national open-data standard: free, or KRW per base block.
    fee_krw                 integer,
    fee_base_hours          numeric(6, 2),
    overtime_unit_hours     numeric(6, 2),
    overtime_fee_krw        integer,
    -- Booking policy.
    slot_minutes            integer NOT NULL DEFAULT 30,
    min_minutes             integer NOT NULL DEFAULT 60,
    max_minutes             integer NOT NULL DEFAULT 240,
    lead_minutes            integer NOT NULL DEFAULT 60,
    horizon_days            integer NOT NULL DEFAULT 60,
    requires_approval       boolean NOT NULL DEFAULT false,
    max_active_per_citizen  integer NOT NULL DEFAULT 4,
    requires_check_in       boolean NOT NULL DEFAULT false,
    check_in_grace_minutes  integer NOT NULL DEFAULT 15,
    closed_on_holidays      boolean NOT NULL DEFAULT false,
    active                  boolean NOT NULL DEFAULT true,
    note                    text,
    source_key              text,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT rooms_kind_valid CHECK (kind IN
        ('meeting_room', 'lecture_room', 'multipurpose_room', 'hall', 'gym', 'other')),
    CONSTRAINT rooms_capacity_positive CHECK (capacity > 0),
    CONSTRAINT rooms_area_positive CHECK (area_m2 IS NULL OR area_m2 > 0),
    CONSTRAINT rooms_fee_nonnegative CHECK (fee_krw IS NULL OR fee_krw >= 0),
    CONSTRAINT rooms_slot_minutes_valid CHECK (slot_minutes BETWEEN 5 AND 1440 AND 1440 % slot_minutes = 0),
    CONSTRAINT rooms_duration_bounds CHECK (min_minutes > 0 AND max_minutes >= min_minutes),
    CONSTRAINT rooms_lead_nonnegative CHECK (lead_minutes >= 0),
    CONSTRAINT rooms_horizon_positive CHECK (horizon_days > 0),
    CONSTRAINT rooms_max_active_positive CHECK (max_active_per_citizen > 0),
    CONSTRAINT rooms_grace_nonnegative CHECK (check_in_grace_minutes >= 0),
    CONSTRAINT rooms_name_present CHECK (btrim(name) <> '')
);
CREATE INDEX rooms_institution ON rooms (institution_id);
CREATE UNIQUE INDEX rooms_source_key ON rooms (source_key) WHERE source_key IS NOT NULL;

-- A weekly window in the institution's local time; end <= start means it crosses midnight.
CREATE TABLE availability_rules (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    room_id      uuid NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    days         smallint[] NOT NULL,          -- ISO weekdays, 1 = Monday .. 7 = Sunday
    start_time   time NOT NULL,
    end_time     time NOT NULL,
    valid_from   date,
    valid_until  date,
    CONSTRAINT availability_rules_days_valid
        CHECK (cardinality(days) > 0 AND days <@ ARRAY[1, 2, 3, 4, 5, 6, 7]::smallint[]),
    CONSTRAINT availability_rules_not_empty CHECK (start_time <> end_time),
    CONSTRAINT availability_rules_validity_order
        CHECK (valid_from IS NULL OR valid_until IS NULL OR valid_from <= valid_until)
);
CREATE INDEX availability_rules_room ON availability_rules (room_id);

CREATE TABLE closures (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    room_id     uuid NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    during      tstzrange NOT NULL,
    reason      text NOT NULL DEFAULT '',
    created_by  uuid REFERENCES users (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT closures_not_empty CHECK (NOT isempty(during) AND lower_inc(during) AND NOT upper_inc(during))
);
CREATE INDEX closures_room_during ON closures USING gist (room_id, during);

-- Filled from the maintained `holidays` package (python -m booking migrate syncs it), never by hand.
CREATE TABLE public_holidays (
    country  text NOT NULL,
    day      date NOT NULL,
    name     text NOT NULL,
    CONSTRAINT public_holidays_pkey PRIMARY KEY (country, day)
);
