// A TypeScript client of Tether's API, written against the types openapi-typescript generates
// from /api/openapi.json (into generated/tether.ts). `tsc` accepts it only while the document
// names api.md's objects as api.md does (`Invite`, `Tenant`, `User`…), gives them exactly
// api.md's fields, names each operation for what it does, and describes its answers.

import type { components, operations } from "./generated/tether";

type Schemas = components["schemas"];
type Invite = Schemas["Invite"];
type Problem = Schemas["Problem"];
type Json<Op extends keyof operations> = operations[Op] extends {
  requestBody?: { content: { "application/json": infer Body } };
}
  ? Body
  : never;

// Every field of api.md's objects, and no other: an object literal may not add a field its
// type lacks, nor leave out one it requires.
const invite: Invite = {
  id: 17,
  email: "alice@acme.com",
  name: "Alice Smith",
  role_id: 3,
  role: "client_admin",
  tenant_id: 5,
  status: "pending",
  created_at: "2026-11-23T10:00:00Z",
  expires_at: "2026-11-26T10:00:00Z",
  created_by: { id: 1, email: "dana@atechsolutions.org" },
  accepted_at: null,
  accepted_user_id: null,
  revoked_at: null,
  revoked_by: null,
  revoke_reason: null,
  renewal_requested_at: null,
  delivery: { status: "sent", attempts: 1, sent_at: "2026-11-23T10:00:01Z", last_error: null },
};
const created: Schemas["CreatedInvite"] = {
  ...invite,
  token: "abc123",
  invite_url: "https://acme.atechsolutions.org/invite/abc123",
};
const invites: Schemas["InviteList"] = { items: [invite, created], next_cursor: null };
const tenant: Schemas["Tenant"] = {
  id: 5,
  kind: "client",
  name: "Acme Corp",
  slug: "acme",
  base_url: "https://acme.atechsolutions.org",
  accent_colour: "#D9480F",
  logo_url: null,
  created_at: "2026-11-23T10:00:00Z",
  invite_reminders: true,
  allowed_email_domains: ["acme.com"],
};
const user: Schemas["User"] = {
  id: 9,
  email: "alice@acme.com",
  name: "Alice Smith",
  role_id: 3,
  role: "client_admin",
  tenant_id: 5,
  active: true,
  created_at: "2026-11-23T10:00:00Z",
};
const role: Schemas["Role"] = { id: 3, name: "client_admin", scope: "client", rank: 2 };
const event: Schemas["AuditEvent"] = {
  id: 1,
  at: "2026-11-23T10:00:00Z",
  action: "invite.created",
  actor_id: 1,
  tenant_id: 5,
  target_type: "invite",
  target_id: 17,
  ip: "203.0.113.7",
  detail: { email: "alice@acme.com" },
};
const problem: Problem = {
  type: "about:blank",
  title: "Validation failed",
  status: 422,
  code: "validation_failed",
  detail: "1 field is invalid",
  errors: [{ field: "email", code: "invalid_email", message: "This is not an email address." }],
};

// Enums are named once and narrow.
const status: Schemas["InviteStatus"] = "expired";
// @ts-expect-error: no such status
const unknownStatus: Schemas["InviteStatus"] = "lost";
// @ts-expect-error: the token is never part of an Invite
const withToken: Invite = { ...invite, token: "abc123" };

// Request bodies, named for their operation.
const signIn: Schemas["SignIn"] = { email: "alice@acme.com", password: "violet anchor meadow 42" };
const createInvite: Json<"create_invite"> = {
  email: "bob@acme.com",
  role_id: 3,
  tenant_id: 5,
  expires_hours: 72,
  send_email: false,
};
const accept: Json<"accept_invite_link"> = { name: "Bob", password: "copper lantern thistle 7" };
const logo: NonNullable<operations["put_tenant_logo"]["requestBody"]>["content"]["image/*"] = "";

// Answers: the refusals are problem details under the status api.md gives them.
type Answer<Op extends keyof operations, Status extends keyof operations[Op]["responses"]> =
  operations[Op]["responses"][Status] extends { content: infer Content } ? Content[keyof Content] : never;
const used: Answer<"accept_invite_link", 410> = { ...problem, status: 410, code: "invite_used" };
const limited: Answer<"create_token", 429> = { ...problem, status: 429, code: "rate_limited" };
const taken: Answer<"create_tenant", 409> = { ...problem, status: 409, code: "slug_taken" };
const page: Answer<"list_invites", 200> = invites;
// A batch answers every row: its invite, or the problem the single create would have answered.
const createBatch: Json<"create_invite_batch"> = {
  tenant_id: 5,
  dry_run: true,
  rows: [{ email: "carol@acme.com", name: "Carol Diaz", role_id: 4 }, { email: "dave@acme.com" }],
};
const batch: Answer<"create_invite_batch", 200> = {
  created: 1,
  failed: 1,
  results: [
    { row: 0, outcome: "created", supersedes: 12, invite: created, error: null },
    { row: 1, outcome: "refused", supersedes: null, invite: null, error: { ...problem, code: "validation_failed" } },
  ],
};
// @ts-expect-error: no such outcome
const unknownOutcome: Schemas["InviteBatchOutcome"] = "skipped";
const token: Answer<"create_token", 200> = {
  token: "t",
  token_type: "Bearer",
  expires_at: "2026-12-23T10:00:00Z",
  user,
};

/** Creates an invite as the README's example does, typed end to end. */
export async function inviteSomeone(
  baseUrl: string,
  bearer: string,
  body: Json<"create_invite">,
): Promise<Answer<"create_invite", 201> | Answer<"create_invite", 409>> {
  const response = await fetch(`${baseUrl}/api/invites`, {
    method: "POST",
    headers: { Authorization: `Bearer ${bearer}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  return response.json();
}

export const examples = [
  created, tenant, role, event, status, unknownStatus, withToken, signIn, createInvite,
  accept, logo, used, limited, taken, page, token, createBatch, batch, unknownOutcome,
];
