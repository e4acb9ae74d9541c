import { useEffect } from "preact/hooks";
import { PageTitle } from "./ui";

/** An unknown link or key, or a business not taking bookings. */
export function Unavailable() {
  useEffect(() => {
    document.title = "Booking is not available";
  }, []);
  return (
    <main class="page">
      <div class="result">
        <PageTitle>Booking is not available</PageTitle>
        <p>This booking page does not exist or is not taking bookings at the moment. Please check the link, or contact the business directly.</p>
      </div>
    </main>
  );
}
