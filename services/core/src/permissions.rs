//! What a caller may do: a set of (resource family, access) pairs. A user's set comes from their
//! role, an API key's from its scopes; handlers ask for one permission and never for a role, so
//! roles and scopes can change without touching them.

use s4e_types::Role;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resource {
    Assets,
    Scans,
    Findings,
    ApiKeys,
    Users,
    Audit,
    Automation,
    Exports,
    /// A partner's customer organizations: listing, creating, acting inside them.
    Customers,
}

impl Resource {
    pub const ALL: &'static [Resource] = &[
        Resource::Assets,
        Resource::Scans,
        Resource::Findings,
        Resource::ApiKeys,
        Resource::Users,
        Resource::Audit,
        Resource::Automation,
        Resource::Exports,
        Resource::Customers,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Resource::Assets => "assets",
            Resource::Scans => "scans",
            Resource::Findings => "findings",
            Resource::ApiKeys => "api_keys",
            Resource::Users => "users",
            Resource::Audit => "audit",
            Resource::Automation => "automation",
            Resource::Exports => "exports",
            Resource::Customers => "customers",
        }
    }

    /// `<family>:<access>`, as scopes and `GET /me` spell a permission.
    pub fn permission_name(self, access: Access) -> &'static str {
        use Access::{Read, Write};
        match (self, access) {
            (Resource::Assets, Read) => "assets:read",
            (Resource::Assets, Write) => "assets:write",
            (Resource::Scans, Read) => "scans:read",
            (Resource::Scans, Write) => "scans:write",
            (Resource::Findings, Read) => "findings:read",
            (Resource::Findings, Write) => "findings:write",
            (Resource::ApiKeys, Read) => "api_keys:read",
            (Resource::ApiKeys, Write) => "api_keys:write",
            (Resource::Users, Read) => "users:read",
            (Resource::Users, Write) => "users:write",
            (Resource::Audit, Read) => "audit:read",
            (Resource::Audit, Write) => "audit:write",
            (Resource::Automation, Read) => "automation:read",
            (Resource::Automation, Write) => "automation:write",
            (Resource::Exports, Read) => "exports:read",
            (Resource::Exports, Write) => "exports:write",
            (Resource::Customers, Read) => "customers:read",
            (Resource::Customers, Write) => "customers:write",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|r| r.as_str() == value)
    }

    fn index(self) -> u32 {
        Self::ALL
            .iter()
            .position(|r| *r == self)
            .expect("every resource is listed") as u32
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    /// Create, change, delete, start. Implies nothing: a write permission comes with its read.
    Write,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
        }
    }
}

/// A set of permissions, one bit per (resource, access).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Permissions(u32);

fn bit(resource: Resource, access: Access) -> u32 {
    let offset = match access {
        Access::Read => 0,
        Access::Write => 1,
    };
    1 << (resource.index() * 2 + offset)
}

impl Permissions {
    pub const NONE: Permissions = Permissions(0);

    pub fn all() -> Self {
        Self::of(Resource::ALL, &[Access::Read, Access::Write])
    }

    fn of(resources: &[Resource], accesses: &[Access]) -> Self {
        let mut set = Self::NONE;
        for resource in resources {
            for access in accesses {
                set.0 |= bit(*resource, *access);
            }
        }
        set
    }

    pub fn allows(self, resource: Resource, access: Access) -> bool {
        self.0 & bit(resource, access) != 0
    }

    pub fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// `assets:read`, `scans:write` ... for every permission held, in a stable order.
    pub fn names(self) -> Vec<&'static str> {
        let mut names = Vec::with_capacity(2 * Resource::ALL.len());
        for resource in Resource::ALL {
            for access in [Access::Read, Access::Write] {
                if self.allows(*resource, access) {
                    names.push(resource.permission_name(access));
                }
            }
        }
        names
    }

    /// What a role may do.
    ///
    /// - viewer: look at assets, scans and findings.
    /// - member: also register assets, start scans, triage findings, export, see automation.
    /// - admin: everything: users, API keys, automation, the audit log, and in a partner
    ///   organization its customers.
    /// - owner: as admin; in addition only owners may grant or take away ownership
    ///   (checked where users are changed, since it depends on the target user).
    pub fn for_role(role: Role) -> Self {
        use Resource::*;
        let viewer = Self::of(&[Assets, Scans, Findings], &[Access::Read]);
        match role {
            Role::Viewer => viewer,
            Role::Member => viewer
                .union(Self::of(&[Assets, Scans, Findings], &[Access::Write]))
                .union(Self::of(&[Exports, Automation], &[Access::Read])),
            Role::Admin | Role::Owner => Self::all(),
        }
    }

    /// What an API key's scopes allow. `read`, `write` and `admin` are shorthands; a scope
    /// per family (`findings:read`, `scans:write`) narrows a key to what an integration needs.
    pub fn from_scopes(scopes: &[String]) -> Result<Self, String> {
        let mut set = Self::NONE;
        for scope in scopes {
            set = set.union(Self::from_scope(scope)?);
        }
        Ok(set)
    }

    fn from_scope(scope: &str) -> Result<Self, String> {
        use Resource::*;
        let everyday = [Assets, Scans, Findings, Exports, Automation];
        Ok(match scope {
            "read" => Self::of(&everyday, &[Access::Read]),
            "write" => Self::of(&everyday, &[Access::Read])
                .union(Self::of(&[Assets, Scans, Findings], &[Access::Write])),
            "admin" => Self::all(),
            _ => {
                let unknown = || {
                    format!(
                        "unknown scope {scope:?} (read, write, admin, or <family>:read|write \
                         with family one of {})",
                        Resource::ALL
                            .iter()
                            .map(|r| r.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                };
                let (family, access) = scope.split_once(':').ok_or_else(unknown)?;
                let resource = Resource::parse(family).ok_or_else(unknown)?;
                match access {
                    "read" => Self::of(&[resource], &[Access::Read]),
                    // Writing what one cannot read makes no sense for a client.
                    "write" => Self::of(&[resource], &[Access::Read, Access::Write]),
                    _ => return Err(unknown()),
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes(names: &[&str]) -> Permissions {
        let owned: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        Permissions::from_scopes(&owned).unwrap()
    }

    #[test]
    fn roles_grow_in_power() {
        let [viewer, member, admin, owner] =
            [Role::Viewer, Role::Member, Role::Admin, Role::Owner].map(Permissions::for_role);
        assert!(member.contains(viewer) && admin.contains(member) && owner.contains(admin));
        assert!(viewer.allows(Resource::Findings, Access::Read));
        assert!(!viewer.allows(Resource::Findings, Access::Write));
        assert!(!viewer.allows(Resource::Exports, Access::Read));
        assert!(member.allows(Resource::Scans, Access::Write));
        assert!(member.allows(Resource::Exports, Access::Read));
        assert!(!member.allows(Resource::ApiKeys, Access::Read));
        assert!(!member.allows(Resource::Audit, Access::Read));
        assert!(!member.allows(Resource::Users, Access::Write));
        assert!(admin.allows(Resource::Audit, Access::Read));
        assert!(admin.allows(Resource::Users, Access::Write));
    }

    #[test]
    fn permission_names_spell_family_and_access() {
        for resource in Resource::ALL {
            for access in [Access::Read, Access::Write] {
                assert_eq!(
                    resource.permission_name(access),
                    format!("{}:{}", resource.as_str(), access.as_str())
                );
            }
        }
    }

    #[test]
    fn scope_shorthands_and_families() {
        assert!(scopes(&["read"]).allows(Resource::Findings, Access::Read));
        assert!(!scopes(&["read"]).allows(Resource::Findings, Access::Write));
        assert!(!scopes(&["read"]).allows(Resource::Audit, Access::Read));
        assert!(scopes(&["write"]).allows(Resource::Assets, Access::Write));
        assert!(!scopes(&["write"]).allows(Resource::ApiKeys, Access::Write));
        assert_eq!(scopes(&["admin"]), Permissions::all());
        let narrow = scopes(&["findings:read", "scans:write"]);
        assert_eq!(
            narrow.names(),
            ["scans:read", "scans:write", "findings:read"]
        );
        for bad in ["root", "findings", "findings:delete", "secrets:read", ""] {
            let error = Permissions::from_scopes(&[bad.to_string()]).unwrap_err();
            assert!(error.contains("unknown scope"), "{bad}: {error}");
        }
    }

    #[test]
    fn a_write_key_is_within_a_members_rights_but_not_an_admin_key() {
        let member = Permissions::for_role(Role::Member);
        assert!(member.contains(scopes(&["write"])));
        assert!(!member.contains(scopes(&["admin"])));
        assert!(!member.contains(scopes(&["audit:read"])));
    }
}
