import { BookPage } from "./BookingFlow";
import { CancelledPage, DonePage } from "./CheckoutReturn";
import { Ctx, type AppContext } from "./context";
import { ManagePage } from "./ManageBooking";
import { Unavailable } from "./Unavailable";

/** The page the gateway asked for (config.page). */
export function App({ context }: { context: AppContext }) {
  const page = context.config.page;
  return (
    <Ctx.Provider value={context}>
      {page === "book" && context.config.publicKey ? (
        <BookPage />
      ) : page === "done" ? (
        <DonePage />
      ) : page === "cancelled" ? (
        <CancelledPage />
      ) : page === "manage" ? (
        <ManagePage />
      ) : (
        <Unavailable />
      )}
    </Ctx.Provider>
  );
}
