-- An organization's own words for the crawl's directory fuzzing; absent: the bundled list alone.
CREATE TABLE fuzz_wordlists (
    org_id           uuid PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    words            text[] NOT NULL,
    replaces_bundled boolean NOT NULL DEFAULT false,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
