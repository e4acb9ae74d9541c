// A page the address does not name, or one the admin's role may not open: the same "Not found".
import { BASE, Link } from "../router";
import { PageTitle } from "../ui";

export function NotFound() {
  return (
    <div class="admin-page">
      <PageTitle>Not found</PageTitle>
      <p>There is no page at this address for your account.</p>
      <p>
        <Link href={`${BASE}/`}>Go to the start page</Link>
      </p>
    </div>
  );
}

/** The platform admin's start page until the platform pages are registered. */
export function PlatformHome() {
  return (
    <div class="admin-page">
      <PageTitle>Platform</PageTitle>
      <p>You are signed in as the platform's administrator. The menu lists the platform's pages.</p>
    </div>
  );
}
