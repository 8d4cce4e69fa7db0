-- Partners (MSSPs) manage customer organizations: a customer names its partner.
ALTER TABLE organizations
    ADD COLUMN is_partner boolean NOT NULL DEFAULT false,
    ADD COLUMN partner_org_id uuid REFERENCES organizations (id) ON DELETE RESTRICT;
CREATE INDEX organizations_partner_idx ON organizations (partner_org_id)
    WHERE partner_org_id IS NOT NULL;
