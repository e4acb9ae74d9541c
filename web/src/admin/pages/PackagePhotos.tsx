// The package editor's Photos: each photo its https address, its description (alt text, required) and a
// small preview, in the order the widget shows them; Move up / Move down / Remove keep the keyboard's
// focus on the photo that moved (or where the removed one was) and say what happened.
import { useEffect, useRef, useState } from "preact/hooks";
import { Field } from "./common";
import { isHttpsUrl, MAX_PHOTOS, movePhoto, photoError, readPhotos, writePhotos, type Photo } from "./photos";

type Focus = { n: number; on: "url" | "up" | "down" | "remove" } | "add";

export function PackagePhotosField(props: { value: string; onChange: (value: string) => void; errors: Record<string, string> }) {
  const photos = readPhotos(props.value);
  const box = useRef<HTMLFieldSetElement>(null);
  const [focus, setFocus] = useState<Focus | null>(null);
  const [said, setSaid] = useState("");
  useEffect(() => {
    if (!focus || !box.current) return;
    const target =
      focus === "add"
        ? box.current.querySelector<HTMLElement>("[data-photo-add]")
        : focus.on === "url"
          ? box.current.querySelector<HTMLElement>(`[data-photo="${focus.n}"] input`)
          : box.current.querySelector<HTMLElement>(`[data-photo="${focus.n}"] [data-photo-action="${focus.on}"]`);
    target?.focus();
    setFocus(null);
  }, [focus]);

  const change = (next: Photo[]) => props.onChange(writePhotos(next));
  const edit = (n: number, part: keyof Photo, text: string) => change(photos.map((p, i) => (i === n ? { ...p, [part]: text } : p)));

  function add() {
    change([...photos, { url: "", alt: "" }]);
    setSaid("");
    setFocus({ n: photos.length, on: "url" });
  }

  function move(n: number, by: -1 | 1) {
    const to = n + by;
    change(movePhoto(photos, n, to));
    setSaid(`Photo ${n + 1} is now photo ${to + 1} of ${photos.length}.`);
    // At the top or the bottom its own button is disabled: the other one keeps the focus.
    const stays = (by < 0 ? to > 0 : to < photos.length - 1) ? (by < 0 ? "up" : "down") : by < 0 ? "down" : "up";
    setFocus(photos.length > 1 ? { n: to, on: stays } : null);
  }

  function remove(n: number) {
    change(photos.filter((_, i) => i !== n));
    setSaid(`Photo ${n + 1} was removed (saved with the package).`);
    setFocus(photos.length > 1 ? { n: Math.min(n, photos.length - 2), on: "remove" } : "add");
  }

  const listError = props.errors.photos ?? null;
  return (
    <fieldset class="photos" ref={box}>
      <legend>Photos</legend>
      <p class="field-hint">
        Shown in the widget in this order (the first beside the package). Addresses start with https://; up to {MAX_PHOTOS} photos.
      </p>
      {photos.length === 0 && <p>No photos yet.</p>}
      {photos.length > 0 && (
        <ol class="photo-list">
          {photos.map((photo, n) => (
            <li key={n}>
              <fieldset class="photo" data-photo={n}>
                <legend>Photo {n + 1}</legend>
                <div class="photo-body">
                  <div class="photo-preview">
                    {isHttpsUrl(photo.url) ? <img src={photo.url.trim()} alt={photo.alt.trim()} loading="lazy" /> : <span class="field-hint">No preview yet</span>}
                  </div>
                  <div class="photo-fields">
                    <Field label="Address (https)" value={photo.url} onInput={(v) => edit(n, "url", v)} error={photoError(props.errors, n, "url")} type="url" inputMode="url" required />
                    <Field
                      label="Description (alt text)"
                      value={photo.alt}
                      onInput={(v) => edit(n, "alt", v)}
                      error={photoError(props.errors, n, "alt")}
                      hint="What the photo shows, for couples who use a screen reader."
                      required
                    />
                  </div>
                </div>
                <div class="actions">
                  <button type="button" class="button secondary" data-photo-action="up" disabled={n === 0} onClick={() => move(n, -1)}>
                    Move up
                  </button>
                  <button type="button" class="button secondary" data-photo-action="down" disabled={n === photos.length - 1} onClick={() => move(n, 1)}>
                    Move down
                  </button>
                  <button type="button" class="button secondary" data-photo-action="remove" onClick={() => remove(n)}>
                    Remove
                  </button>
                </div>
              </fieldset>
            </li>
          ))}
        </ol>
      )}
      {listError && <p class="field-error">{listError}</p>}
      <p role="status" class="visually-hidden">
        {said}
      </p>
      {photos.length < MAX_PHOTOS ? (
        <button type="button" class="button secondary" data-photo-add onClick={add}>
          Add a photo
        </button>
      ) : (
        <p class="field-hint">This package has the most photos it can have ({MAX_PHOTOS}).</p>
      )}
    </fieldset>
  );
}
