//! The fixed role catalogue of product.md §1: stable ids, names, scopes and ranks.

use std::fmt;

use super::tenant::TenantKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    MspAdmin,
    MspTechnician,
    ClientAdmin,
    ClientUser,
}

impl Role {
    pub const ALL: [Role; 4] = [
        Role::MspAdmin,
        Role::MspTechnician,
        Role::ClientAdmin,
        Role::ClientUser,
    ];

    pub fn id(self) -> i64 {
        match self {
            Self::MspAdmin => 1,
            Self::MspTechnician => 2,
            Self::ClientAdmin => 3,
            Self::ClientUser => 4,
        }
    }

    pub fn from_id(id: i64) -> Option<Self> {
        Self::ALL.into_iter().find(|role| role.id() == id)
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::MspAdmin => "msp_admin",
            Self::MspTechnician => "msp_technician",
            Self::ClientAdmin => "client_admin",
            Self::ClientUser => "client_user",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|role| role.name() == name)
    }

    /// The role a person typed, by name (`client_admin`) or label (`Client admin`), in any
    /// case.
    pub fn named(text: &str) -> Option<Self> {
        let text = text.trim();
        Self::ALL.into_iter().find(|role| {
            role.name().eq_ignore_ascii_case(text) || role.label().eq_ignore_ascii_case(text)
        })
    }

    /// How a person reads the role: "Client admin".
    pub fn label(self) -> &'static str {
        match self {
            Self::MspAdmin => "MSP admin",
            Self::MspTechnician => "MSP technician",
            Self::ClientAdmin => "Client admin",
            Self::ClientUser => "Client user",
        }
    }

    /// The kind of tenant in which this role may be held.
    pub fn scope(self) -> TenantKind {
        match self {
            Self::MspAdmin | Self::MspTechnician => TenantKind::Msp,
            Self::ClientAdmin | Self::ClientUser => TenantKind::Client,
        }
    }

    pub fn rank(self) -> i64 {
        match self {
            Self::MspAdmin => 40,
            Self::MspTechnician => 30,
            Self::ClientAdmin => 20,
            Self::ClientUser => 10,
        }
    }

    pub fn fits(self, tenant: TenantKind) -> bool {
        self.scope() == tenant
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_matches_product_md() {
        let table: Vec<_> = Role::ALL
            .iter()
            .map(|r| (r.id(), r.name(), r.scope(), r.rank()))
            .collect();
        assert_eq!(
            table,
            [
                (1, "msp_admin", TenantKind::Msp, 40),
                (2, "msp_technician", TenantKind::Msp, 30),
                (3, "client_admin", TenantKind::Client, 20),
                (4, "client_user", TenantKind::Client, 10),
            ]
        );
    }

    #[test]
    fn ids_and_names_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::from_id(role.id()), Some(role));
            assert_eq!(Role::from_name(role.name()), Some(role));
        }
        assert_eq!(Role::from_id(5), None);
        assert_eq!(Role::from_name("root"), None);
    }
}
