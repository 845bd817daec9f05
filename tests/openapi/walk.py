"""Walks the README's API example through a client generated from Tether's OpenAPI document.

    python3 walk.py CLIENT_DIR BASE_URL ADMIN_EMAIL ADMIN_PASSWORD

CLIENT_DIR holds the `tether_client` package (its parent folder) that openapi-python-client generated. Every call
goes through the generated functions and models (nothing here speaks HTTP itself), and every
answer must be the status and the model that the document promised: the clients are made with
`raise_on_unexpected_status`, so an answer the document does not describe fails the walk.
"""

import base64
import secrets
import sys

sys.path.insert(0, sys.argv[1])

from tether_client import AuthenticatedClient, Client  # noqa: E402
from tether_client.api.auth import (  # noqa: E402
    change_my_password,
    create_token,
    get_me,
    list_my_sessions,
)
from tether_client.api.invite_links import accept_invite_link, inspect_invite_link  # noqa: E402
from tether_client.api.invites import create_invite, list_invites, revoke_invite  # noqa: E402
from tether_client.api.tenants import (  # noqa: E402
    create_tenant,
    get_tenant,
    get_tenant_logo,
    list_roles,
    put_tenant_logo,
)
from tether_client.models import (  # noqa: E402
    AcceptInvite,
    ChangePassword,
    CreateInvite,
    CreatedInvite,
    CreateTenant,
    InviteLink,
    InviteList,
    InviteStatus,
    Problem,
    RoleList,
    SessionList,
    SignIn,
    Tenant,
    TenantKind,
    Token,
    User,
)
from tether_client.types import File  # noqa: E402

BASE_URL, ADMIN_EMAIL, ADMIN_PASSWORD = sys.argv[2:5]

# A 1×1 PNG, enough for the server to recognise the type by its bytes.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)


def expect(response, status, model):
    """The answer's status and parsed model, or the walk stops saying what came instead."""
    if response.status_code != status or not isinstance(response.parsed, model):
        sys.exit(
            f"expected {status} {model.__name__}, got {int(response.status_code)}: "
            f"{response.content[:300]!r}"
        )
    return response.parsed


def refused(response, status, code):
    problem = expect(response, status, Problem)
    if problem.code != code:
        sys.exit(f"expected the code {code}, got {problem.code}: {problem.detail}")
    return problem


def step(text):
    print(f"  {text}")


public = Client(base_url=BASE_URL, raise_on_unexpected_status=True)

signed_in = expect(
    create_token.sync_detailed(client=public, body=SignIn(email=ADMIN_EMAIL, password=ADMIN_PASSWORD)),
    200,
    Token,
)
step(f"signed in as {signed_in.user.email} ({signed_in.user.role}), token until {signed_in.expires_at}")
refused(
    create_token.sync_detailed(client=public, body=SignIn(email=ADMIN_EMAIL, password="not the password")),
    401,
    "invalid_credentials",
)
step("a wrong password: 401 invalid_credentials")
admin = AuthenticatedClient(base_url=BASE_URL, token=signed_in.token, raise_on_unexpected_status=True)

roles = expect(list_roles.sync_detailed(client=admin), 200, RoleList).items
client_admin = next(role for role in roles if role.name == "client_admin")

slug = f"acme{secrets.randbelow(10**6)}"
tenant = expect(
    create_tenant.sync_detailed(
        client=admin, body=CreateTenant(name="Acme Corp", slug=slug, accent_colour="#D9480F")
    ),
    201,
    Tenant,
)
assert tenant.kind == TenantKind.CLIENT and tenant.logo_url is None, tenant
step(f"created {tenant.name} (tenant {tenant.id}) at {tenant.base_url}")

put = put_tenant_logo.sync_detailed(tenant.id, client=admin, body=File(payload=PNG, mime_type="image/png"))
assert put.status_code == 204, put
tenant = expect(get_tenant.sync_detailed(tenant.id, client=admin), 200, Tenant)
logo = get_tenant_logo.sync_detailed(tenant.id, client=public)
assert expect(logo, 200, File).payload.read() == PNG
assert logo.headers["content-type"] == "image/png", logo.headers
step(f"uploaded a logo through put_tenant_logo; {tenant.logo_url} serves the same bytes as image/png")

invited = create_invite.sync_detailed(
    client=admin,
    body=CreateInvite(
        email=f"alice@{slug}.example",
        name="Alice Smith",
        role_id=client_admin.id,
        tenant_id=tenant.id,
        expires_hours=72,
    ),
)
invite = expect(invited, 201, CreatedInvite)
assert invited.headers["location"] == f"/api/invites/{invite.id}", invited.headers
assert invite.status == InviteStatus.PENDING and invite.delivery is None, invite
step(f"invited {invite.email} as {invite.role}: {invite.invite_url}")

bad = refused(
    create_invite.sync_detailed(
        client=admin,
        body=CreateInvite(email="not an address", role_id=client_admin.id, tenant_id=tenant.id),
    ),
    422,
    "validation_failed",
)
assert [error.field for error in bad.errors] == ["email"], bad.errors
step(f"a bad address: 422, {bad.errors[0].field}: {bad.errors[0].code}")

link = expect(inspect_invite_link.sync_detailed(invite.token, client=public), 200, InviteLink)
assert link.tenant.name == "Acme Corp" and link.role.name == "client_admin", link
step(f"the link shows {link.tenant.name} in {link.tenant.accent_colour}, for {link.email}")

accepted = expect(
    accept_invite_link.sync_detailed(
        invite.token, client=public, body=AcceptInvite(name="Alice Smith", password="violet anchor meadow 42")
    ),
    201,
    Token,
)
alice = AuthenticatedClient(base_url=BASE_URL, token=accepted.token, raise_on_unexpected_status=True)
me = expect(get_me.sync_detailed(client=alice), 200, User)
assert (me.role, me.tenant_id, me.email) == ("client_admin", tenant.id, invite.email), me
step(f"accepted: {me.name}, {me.role} of tenant {me.tenant_id}")

sessions = expect(list_my_sessions.sync_detailed(client=alice), 200, SessionList)
assert [session.current for session in sessions.items] == [True], sessions
changed = change_my_password.sync_detailed(
    client=alice,
    body=ChangePassword(current_password="violet anchor meadow 42", new_password="copper lantern thistle 7"),
)
assert changed.status_code == 204, changed
step("her one session is the current one; she changed her password: 204")

refused(
    accept_invite_link.sync_detailed(
        invite.token, client=public, body=AcceptInvite(name="Alice Smith", password="violet anchor meadow 42")
    ),
    410,
    "invite_used",
)
step("the link again: 410 invite_used")
refused(revoke_invite.sync_detailed(invite.id, client=admin), 409, "invite_not_revocable")

second = expect(
    create_invite.sync_detailed(
        client=admin,
        body=CreateInvite(email=f"bob@{slug}.example", role_id=client_admin.id, tenant_id=tenant.id),
    ),
    201,
    CreatedInvite,
)
for _ in range(2):
    revoked = revoke_invite.sync_detailed(second.id, client=admin)
    assert revoked.status_code == 204, revoked
step("revoking the accepted invite: 409 invite_not_revocable; a pending one: 204, and 204 again")

listed = expect(list_invites.sync_detailed(client=admin, status="all", tenant_id=tenant.id), 200, InviteList)
statuses = {item.id: item.status for item in listed.items}
assert statuses == {invite.id: InviteStatus.ACCEPTED, second.id: InviteStatus.REVOKED}, statuses
assert listed.next_cursor is None
step(f"the tenant's invites: {', '.join(f'{i}: {s.value}' for i, s in statuses.items())}")
print("The generated client walked the README's example.")
