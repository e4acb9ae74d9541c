// The month calendar (filled in below).
import { PageTitle } from "../ui";

export function Calendar() {
  return (
    <div class="admin-page">
      <PageTitle>Calendar</PageTitle>
    </div>
  );
}
