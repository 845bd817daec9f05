//! Who is acting, and what they may do: the permission table of product.md §2, in one
//! place. Every domain operation asks it before it reads or writes anything.

use super::error::{Error, Result};
use super::role::Role;
use super::tenant::{TenantId, TenantKind};
use super::user::UserId;

/// The person (or the operator at the command line) on whose behalf an operation runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// `None` for the operator running `tether` on the server itself.
    pub user_id: Option<UserId>,
    pub tenant_id: TenantId,
    pub role: Role,
    /// The client's IP address, for the audit trail.
    pub ip: Option<String>,
}

impl Actor {
    /// The operator at the command line, who holds an MSP admin's rights.
    pub fn operator(msp: TenantId) -> Self {
        Self {
            user_id: None,
            tenant_id: msp,
            role: Role::MspAdmin,
            ip: None,
        }
    }
}

/// The things product.md §2 grants or withholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    ManageTenants,
    SeeTenants,
    Invite,
    SeeInvites,
    RevokeInvites,
    SeeUsers,
    ManageUsers,
    ReadAudit,
    /// See and retry what the outbox sends (delivery.md §8).
    SeeOutbox,
    /// Webhook endpoints and their deliveries (delivery.md §14): MSP admins only.
    ManageWebhooks,
}

/// How far an action reaches for a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    Nothing,
    OwnTenant,
    AllTenants,
}

/// product.md §2 as data.
pub fn reach(role: Role, action: Action) -> Reach {
    use Action::*;
    use Reach::*;
    use Role::*;
    match (action, role) {
        (ManageTenants, MspAdmin) => AllTenants,
        (ManageTenants, _) => Nothing,
        (ManageWebhooks, MspAdmin) => AllTenants,
        (ManageWebhooks, _) => Nothing,

        (SeeTenants | SeeUsers, MspAdmin | MspTechnician) => AllTenants,
        (SeeTenants | SeeUsers, ClientAdmin | ClientUser) => OwnTenant,

        (Invite | SeeInvites | RevokeInvites | ManageUsers | ReadAudit | SeeOutbox, MspAdmin) => {
            AllTenants
        }
        (
            Invite | SeeInvites | RevokeInvites | ManageUsers | ReadAudit | SeeOutbox,
            ClientAdmin,
        ) => OwnTenant,
        (Invite | SeeInvites | RevokeInvites | ManageUsers | ReadAudit | SeeOutbox, _) => Nothing,
    }
}

/// Which tenants' rows a query may touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantScope {
    All,
    Only(TenantId),
}

impl TenantScope {
    pub fn includes(self, tenant: TenantId) -> bool {
        match self {
            Self::All => true,
            Self::Only(own) => own == tenant,
        }
    }

    /// Narrows the scope to one tenant a caller asked for; `None` when that tenant is
    /// outside the scope.
    pub fn narrowed_to(self, tenant: Option<TenantId>) -> Option<Self> {
        match (self, tenant) {
            (scope, None) => Some(scope),
            (Self::All, Some(tenant)) => Some(Self::Only(tenant)),
            (Self::Only(own), Some(tenant)) => (own == tenant).then_some(self),
        }
    }
}

impl Actor {
    pub fn reach(&self, action: Action) -> Reach {
        reach(self.role, action)
    }

    /// The tenants this actor may act on for `action`, or `Forbidden` if none.
    pub fn scope(&self, action: Action) -> Result<TenantScope> {
        match self.reach(action) {
            Reach::Nothing => Err(Error::Forbidden),
            Reach::OwnTenant => Ok(TenantScope::Only(self.tenant_id)),
            Reach::AllTenants => Ok(TenantScope::All),
        }
    }

    /// The role ceiling: an MSP admin may grant any role, a client admin roles up to
    /// `client_admin` (never an MSP role), nobody else any.
    pub fn may_grant(&self, role: Role) -> bool {
        match self.role {
            Role::MspAdmin => true,
            Role::ClientAdmin => {
                role.scope() == TenantKind::Client && role.rank() <= Role::ClientAdmin.rank()
            }
            Role::MspTechnician | Role::ClientUser => false,
        }
    }

    /// Whether this actor may change a user who holds `role` in a tenant within its reach
    /// (product.md §2, "change a user"): a role that manages users, and a user no higher
    /// than the roles it may grant. Renaming, re-roling, deactivating and issuing a password
    /// reset link all ask this.
    pub fn may_change_user(&self, role: Role) -> bool {
        self.reach(Action::ManageUsers) != Reach::Nothing && self.may_grant(role)
    }

    pub fn is(&self, user: UserId) -> bool {
        self.user_id == Some(user)
    }
}

impl Role {
    /// The roles `actor` may grant in a tenant of `kind` (its ceiling and the role's scope),
    /// highest first.
    pub fn grantable_by(actor: &Actor, kind: TenantKind) -> Vec<Role> {
        Role::ALL
            .into_iter()
            .filter(|role| role.fits(kind) && actor.may_grant(*role))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(role: Role) -> Actor {
        Actor {
            user_id: Some(UserId(7)),
            tenant_id: TenantId(5),
            role,
            ip: None,
        }
    }

    #[test]
    fn table_matches_product_md_section_2() {
        use Action::*;
        use Reach::*;
        let expected = [
            (ManageTenants, [AllTenants, Nothing, Nothing, Nothing]),
            (SeeTenants, [AllTenants, AllTenants, OwnTenant, OwnTenant]),
            (Invite, [AllTenants, Nothing, OwnTenant, Nothing]),
            (SeeInvites, [AllTenants, Nothing, OwnTenant, Nothing]),
            (RevokeInvites, [AllTenants, Nothing, OwnTenant, Nothing]),
            (SeeUsers, [AllTenants, AllTenants, OwnTenant, OwnTenant]),
            (ManageUsers, [AllTenants, Nothing, OwnTenant, Nothing]),
            (ReadAudit, [AllTenants, Nothing, OwnTenant, Nothing]),
            (ManageWebhooks, [AllTenants, Nothing, Nothing, Nothing]),
        ];
        for (action, reaches) in expected {
            for (role, want) in Role::ALL.into_iter().zip(reaches) {
                assert_eq!(reach(role, action), want, "{role} {action:?}");
            }
        }
    }

    #[test]
    fn client_admin_grants_only_client_roles() {
        let admin = actor(Role::ClientAdmin);
        assert!(admin.may_grant(Role::ClientAdmin));
        assert!(admin.may_grant(Role::ClientUser));
        assert!(!admin.may_grant(Role::MspAdmin));
        assert!(!admin.may_grant(Role::MspTechnician));
        assert!(Role::ALL
            .into_iter()
            .all(|r| actor(Role::MspAdmin).may_grant(r)));
        assert!(Role::ALL
            .into_iter()
            .all(|r| !actor(Role::MspTechnician).may_grant(r)));
        assert!(Role::ALL
            .into_iter()
            .all(|r| !actor(Role::ClientUser).may_grant(r)));
    }

    #[test]
    fn scope_is_own_tenant_for_client_admins() {
        assert_eq!(
            actor(Role::ClientAdmin).scope(Action::SeeInvites).unwrap(),
            TenantScope::Only(TenantId(5))
        );
        assert!(matches!(
            actor(Role::MspTechnician).scope(Action::Invite),
            Err(Error::Forbidden)
        ));
        let own = TenantScope::Only(TenantId(5));
        assert_eq!(own.narrowed_to(Some(TenantId(6))), None);
        assert_eq!(
            TenantScope::All.narrowed_to(Some(TenantId(6))),
            Some(TenantScope::Only(TenantId(6)))
        );
    }
}
