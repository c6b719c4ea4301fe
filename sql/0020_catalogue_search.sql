-- Catalogue search: indexes for the filters of GET /v1/rooms and GET /v1/institutions.

-- `q` matches room and institution names with ILIKE '%q%' (Korean included): trigram indexes.
CREATE INDEX rooms_name_trgm ON rooms USING gin (name gin_trgm_ops);
CREATE INDEX institutions_name_trgm ON institutions USING gin (name gin_trgm_ops);
-- `near`: a bounding-box prefilter on plain coordinates, then haversine (no PostGIS needed).
CREATE INDEX institutions_coordinates ON institutions (latitude, longitude)
    WHERE latitude IS NOT NULL;
-- Keyset pagination of the institution list.
CREATE INDEX institutions_name_id ON institutions (name, id);
-- Search lists active rooms of the candidate institutions.
CREATE INDEX rooms_active_institution ON rooms (institution_id, capacity) WHERE active;
