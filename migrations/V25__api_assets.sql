-- APIs as assets: the URL of an OpenAPI or Swagger document, whose operations are checked.
ALTER TABLE assets DROP CONSTRAINT assets_kind_check;
ALTER TABLE assets ADD CONSTRAINT assets_kind_check
    CHECK (kind IN ('url', 'domain', 'ip', 'cidr', 'api'));
