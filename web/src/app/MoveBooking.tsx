// Moving a confirmed booking from the manage page, while the couple could still cancel it: a whole
// day picks another date in the widget's calendar, a time slot another start in the widget's day
// view (both open at the booking's month); the move is asked with one Idempotency-Key per choice, and said in words either way.
import { useMemo, useRef, useState } from "preact/hooks";
import { ApiError, newIdempotencyKey, type CoupleBooking, type Slot } from "../shared/api";
import { Ctx, useApp } from "./context";
import { bounds as boundsOf, dateAndTimes, todayIn, weekStartOf } from "./dates";
import { DatePicker } from "./DatePicker";
import { sentence } from "./flow";
import { SlotPicker } from "./SlotPicker";
import { Alert, useId } from "./ui";

/** What a refusal's code means to the couple. */
export function refusalWords(error: unknown, businessName: string, slot: boolean): string {
  const failure = error instanceof ApiError ? error : null;
  if (failure?.code === "DATE_UNAVAILABLE") {
    return slot
      ? "That time is no longer free. Please choose another time."
      : "That date is no longer free. Please choose another date.";
  }
  if (failure?.code === "CANCELLATION_WINDOW_CLOSED") {
    return `Moving this booking yourself is no longer possible; please contact ${businessName}.`;
  }
  return sentence(failure?.message ?? "Something went wrong. Please try again.");
}

interface Props {
  booking: CoupleBooking;
  token: string;
  /** The moved booking (the answer, merged by the page). */
  onMoved: (moved: CoupleBooking) => void;
  /** The page should read the booking again (the window closed meanwhile). */
  onStale: () => void;
}

export function MoveBooking({ booking, token, onMoved, onStale }: Props) {
  const app = useApp();
  const { locale } = app;
  const business = booking.business;
  const businessName = business?.name ?? "the business";
  const zone = business?.timezone ?? "UTC";
  const slotKind = booking.kind === "SLOT" || Boolean(booking.startsAt);
  const [open, setOpen] = useState(false);
  const [date, setDate] = useState<string | null>(null);
  const [slot, setSlot] = useState<Slot | null>(null);
  const [taken, setTaken] = useState<string[]>([]);
  const [revision, setRevision] = useState(0);
  const [busy, setBusy] = useState(false);
  const [alert, setAlert] = useState<string | null>(null);
  const [moved, setMoved] = useState<string | null>(null);
  const key = useRef("");
  const headingId = useId("move");
  const resultRef = useRef<HTMLParagraphElement>(null);
  // The availability routes take the business's public key: the same client, with it.
  const keyed = useMemo(() => {
    if (!open || !business?.publicKey) return null;
    return { ...app, api: app.api.withKey(business.publicKey) };
  }, [open, business?.publicKey]);
  const b = useMemo(() => boundsOf(todayIn(zone), business?.policy ?? { minNoticeDays: 0, maxAdvanceDays: 0 }), [zone, business?.policy]);
  const choice = slotKind ? (slot ? slot.startsAt : null) : date !== booking.eventDate ? date : null;

  async function move() {
    if (busy || !choice) return;
    setBusy(true);
    setAlert(null);
    key.current ||= newIdempotencyKey();
    try {
      const answer = await app.api.rescheduleBooking(booking.id, token, slotKind ? { startsAt: choice } : { eventDate: choice }, key.current);
      key.current = "";
      setMoved(dateAndTimes(answer.eventDate, answer.startsAt, answer.endsAt, zone, locale));
      setOpen(false);
      setDate(null);
      setSlot(null);
      onMoved(answer);
      requestAnimationFrame(() => resultRef.current?.focus());
    } catch (error) {
      const failure = error instanceof ApiError ? error : null;
      if (!failure?.indefinite) key.current = "";
      setAlert(refusalWords(error, businessName, slotKind));
      if (failure?.code === "DATE_UNAVAILABLE") {
        if (slotKind && slot) setTaken((t) => [...t, slot.startsAt]);
        if (!slotKind && date) setTaken((t) => [...t, date]);
        setSlot(null);
        setRevision((r) => r + 1);
      }
      if (failure?.code === "CANCELLATION_WINDOW_CLOSED") {
        setOpen(false);
        onStale();
      }
    } finally {
      setBusy(false);
    }
  }

  const what = slotKind ? "time" : "date";
  return (
    <section class="move-booking" aria-labelledby={headingId}>
      <h2 id={headingId}>{slotKind ? "Move to another time" : "Move to another date"}</h2>
      {moved && (
        <p class="notice success" role="status" tabIndex={-1} ref={resultRef}>
          Your booking is moved to {moved}. An email with the new {what} is on its way.
        </p>
      )}
      <Alert message={alert} />
      {!open && (
        <p class="actions">
          <button type="button" class="button secondary" onClick={() => setOpen(true)} disabled={!business?.publicKey}>
            {slotKind ? "Choose another time" : "Choose another date"}
          </button>
        </p>
      )}
      {open && keyed && (
        <Ctx.Provider value={keyed}>
          {slotKind ? (
            <SlotPicker
              pkg={{ id: booking.packageId }}
              bounds={b}
              weekStart={weekStartOf(locale)}
              date={date}
              slot={slot}
              near={booking.eventDate}
              takenStarts={taken}
              revision={revision}
              onDate={(d) => {
                setDate(d);
                setSlot(null);
              }}
              onSlot={setSlot}
              timeZone={zone}
            />
          ) : (
            <DatePicker bounds={b} weekStart={weekStartOf(locale)} selected={date} near={booking.eventDate} onSelect={setDate} revision={revision} taken={taken} />
          )}
          <div class="actions">
            <button type="button" class="button" aria-disabled={busy || !choice ? "true" : undefined} onClick={move}>
              {busy ? "Moving…" : `Move my booking to this ${what}`}
            </button>
            <button type="button" class="button secondary" onClick={() => setOpen(false)}>
              Keep the current {what}
            </button>
          </div>
        </Ctx.Provider>
      )}
    </section>
  );
}

/** Outside the window: who can still move it. */
export function MoveClosed({ businessName, contactEmail }: { businessName: string; contactEmail?: string | null }) {
  return (
    <p class="policy move-closed">
      Moving this booking yourself is no longer possible; please ask {businessName}
      {contactEmail ? (
        <>
          {" "}at <a href={`mailto:${contactEmail}`}>{contactEmail}</a>
        </>
      ) : null}{" "}
      to move it.
    </p>
  );
}
