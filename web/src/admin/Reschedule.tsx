// The booking page's "Reschedule" section: a whole-day booking moves to another date; a time-slot
// booking to another start, chosen from that day's free times. The free times come from the couples'
// own route (GET /v1/availability/slots with the business's public key from its settings), so the
// dashboard offers exactly what a couple could book; the service checks the target again under its
// locks. One Idempotency-Key per chosen target: a retry after a lost answer moves once.
import { useEffect, useState } from "preact/hooks";
import { ApiError, newIdempotencyKey, type Slot } from "../shared/api";
import { dateAndTimes } from "../app/dates";
import type { AdminBooking, RescheduleTarget } from "./api";
import { useAdmin } from "./context";
import { errorText } from "./format";
import { Field, Section, useId } from "./ui";

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

export function isSlotBooking(booking: Pick<AdminBooking, "kind" | "startsAt">): boolean {
  return booking.kind === "SLOT" || Boolean(booking.startsAt);
}

/** The body's target, or the problem in words (named by the API's field). */
export function targetOf(slot: boolean, day: string, startsAt: string): { target: RescheduleTarget } | { field: string; error: string } {
  if (!ISO_DATE.test(day)) return { field: slot ? "day" : "eventDate", error: "Choose a day." };
  if (!slot) return { target: { eventDate: day } };
  if (!startsAt) return { field: "startsAt", error: "Choose a free time on that day." };
  return { target: { startsAt } };
}

/** The section; the page says the outcome of a move (`onMoved`'s message, in its focused notice line). */
export function Reschedule({ booking, onMoved }: { booking: AdminBooking; onMoved: (b: AdminBooking, message: string) => void }) {
  const { api, locale, me } = useAdmin();
  const slot = isSlotBooking(booking);
  const name = useId("reschedule");
  const [day, setDay] = useState("");
  const [startsAt, setStartsAt] = useState("");
  const [reason, setReason] = useState("");
  const [slots, setSlots] = useState<Slot[] | null>(null);
  const [zone, setZone] = useState<string>(me?.tenant?.timezone ?? "");
  const [loading, setLoading] = useState(false);
  const [fieldError, setFieldError] = useState<{ field: string; error: string } | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [key, setKey] = useState(newIdempotencyKey());
  const [publicKey, setPublicKey] = useState<string | null>(null);

  // A new target is a new request: a new key.
  useEffect(() => setKey(newIdempotencyKey()), [day, startsAt]);

  useEffect(() => {
    if (!slot || !ISO_DATE.test(day)) {
      setSlots(null);
      return;
    }
    let live = true;
    setLoading(true);
    setProblem(null);
    setStartsAt("");
    (async () => {
      let pk = publicKey;
      if (!pk) {
        pk = (await api.settings()).publicKey ?? null;
        if (!pk) throw new ApiError(409, "NO_PUBLIC_KEY", "The business has no public key yet: create one under Settings to list free times");
        setPublicKey(pk);
      }
      return api.slots(pk, booking.packageId, day, day);
    })().then(
      (answer) => {
        if (!live) return;
        setSlots(answer.slots.filter((s) => s.date === day));
        setZone(answer.timezone);
        setLoading(false);
      },
      (error) => {
        if (!live) return;
        setSlots(null);
        setProblem(`The free times could not be loaded: ${errorText(error)}`);
        setLoading(false);
      },
    );
    return () => {
      live = false;
    };
  }, [day]);

  async function submit(event: Event) {
    event.preventDefault();
    if (busy) return;
    const read = targetOf(slot, day, startsAt);
    if ("error" in read) {
      setFieldError(read);
      return;
    }
    setFieldError(null);
    setProblem(null);
    setBusy(true);
    try {
      const moved = await api.rescheduleBooking(booking.id, { ...read.target, reason: reason.trim() }, key);
      const when = dateAndTimes(moved.eventDate, moved.startsAt, moved.endsAt, slot ? zone : null, locale);
      setDay("");
      setStartsAt("");
      setReason("");
      onMoved(moved, `The booking is moved to ${when}. The couple is emailed.`);
    } catch (error) {
      setProblem(`The booking was not moved: ${errorText(error)}`);
      // A definite refusal: the next try is a new request.
      if (error instanceof ApiError && !error.indefinite) setKey(newIdempotencyKey());
    } finally {
      setBusy(false);
    }
  }

  const current = dateAndTimes(booking.eventDate, booking.startsAt, booking.endsAt, slot ? zone : null, locale);
  return (
    <Section title="Reschedule">
      <form class="action-block" onSubmit={submit} noValidate>
        <p>Now: {current}.</p>
        <Field label={slot ? "New day" : "New date"} error={fieldError && fieldError.field !== "startsAt" ? fieldError.error : null}>
          {(attrs) => <input {...attrs} type="date" value={day} onInput={(e) => setDay(e.currentTarget.value)} />}
        </Field>
        {slot && ISO_DATE.test(day) && (
          <fieldset aria-busy={loading ? "true" : undefined}>
            <legend>Free times{zone ? ` (${zone})` : ""}</legend>
            {loading && <p role="status">Loading the free times…</p>}
            {!loading && slots && slots.length === 0 && <p>No free time on this day.</p>}
            {!loading &&
              slots?.map((s) => (
                <label class="check" key={s.startsAt}>
                  <input type="radio" name={name} value={s.startsAt} checked={startsAt === s.startsAt} onChange={() => setStartsAt(s.startsAt)} />
                  {s.time}
                </label>
              ))}
            {fieldError?.field === "startsAt" && <p class="field-error">{fieldError.error}</p>}
          </fieldset>
        )}
        <Field label="Reason (the couple sees it)">
          {(attrs) => <textarea {...attrs} maxLength={500} rows={2} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />}
        </Field>
        <button type="submit" class="button" aria-disabled={busy ? "true" : undefined}>
          {busy ? "Moving…" : "Move the booking"}
        </button>
        <div role="alert" class={problem ? "alert" : "alert alert-empty"}>
          {problem}
        </div>
      </form>
    </Section>
  );
}
