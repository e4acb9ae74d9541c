// /admin/team: the business's admins (invited ones until they set a password), an invitation by email,
// and removal (the API refuses to remove the last active admin: 409, shown in words).
import { useState } from "preact/hooks";
import { newIdempotencyKey } from "../../shared/api";
import { ConfirmButton, Field, formatTime, OutcomeLine, PagedTable, useAction, usePaged } from "./common";
import { withQuery, type Page, type PageProps } from "./request";

export interface TeamUser {
  id: string;
  email: string;
  role: string;
  active: boolean;
  createdAt: string | null;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function Team({ request }: PageProps) {
  const paged = usePaged<TeamUser>((cursor) => request<Page<TeamUser>>("GET", withQuery("/v1/tenant-admin/users", { limit: 25, cursor })));
  const [email, setEmail] = useState("");
  const [emailError, setEmailError] = useState<string | null>(null);
  // One key per invitation typed: a retried click mails once.
  const [inviteKey, setInviteKey] = useState(newIdempotencyKey);
  const invite = useAction();
  const remove = useAction();

  async function send(event: Event) {
    event.preventDefault();
    const address = email.trim();
    if (!EMAIL.test(address)) return setEmailError("Write an email address such as name@example.com.");
    setEmailError(null);
    const user = await invite
      .run(() => request<TeamUser>("POST", "/v1/tenant-admin/users", { email: address }, { headers: { "Idempotency-Key": inviteKey } }), `An invitation was sent to ${address}.`)
      .catch(() => undefined);
    if (user) {
      setEmail("");
      setInviteKey(newIdempotencyKey());
      paged.reload();
    }
  }

  function removeUser(user: TeamUser) {
    remove.fire(() => request("DELETE", `/v1/tenant-admin/users/${encodeURIComponent(user.id)}`), `${user.email} was removed; their sign-ins stopped.`).then(() => paged.reload());
  }

  return (
    <div class="admin-page">
      <h1>Team</h1>
      <section aria-labelledby="team-list">
        <h2 id="team-list">Admins</h2>
        <PagedTable paged={paged} label="Admins" columns={["Email", "State", "Since", "Actions"]}>
          {(users) =>
            users.map((user) => (
              <tr key={user.id}>
                <td>{user.email}</td>
                <td>{user.active ? "Active" : "Invited (has not set a password yet)"}</td>
                <td>{formatTime(user.createdAt)}</td>
                <td>
                  <ConfirmButton label="Remove" name={`Remove ${user.email}`} question={`Remove ${user.email} from the team?`} confirm="Yes, remove" busy={remove.busy} onConfirm={() => removeUser(user)} />
                </td>
              </tr>
            ))
          }
        </PagedTable>
        <OutcomeLine outcome={remove.outcome} />
      </section>
      <section aria-labelledby="team-invite">
        <h2 id="team-invite">Invite an admin</h2>
        <form onSubmit={send} noValidate>
          <Field label="Email" type="email" value={email} onInput={setEmail} error={emailError ?? invite.fields.email ?? null} hint="They get a link to set their password (valid for a week)." autoComplete="email" />
          <OutcomeLine outcome={invite.outcome} />
          <div class="actions">
            <button type="submit" class="button" aria-disabled={invite.busy ? "true" : undefined}>
              Send the invitation
            </button>
          </div>
        </form>
      </section>
    </div>
  );
}
