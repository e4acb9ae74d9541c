// A package's photos in the editor: the API's list of {url, alt} as the form holds it (JSON text, so the
// editor's version, change and conflict machinery treats it as one field), what the admin may save, and
// where the API's field errors ("photos[2].url") go. The catalog keeps at most 20 photos of at most 2000
// characters per address and 300 per description (services/catalog/domain.py). The widget shows only
// https photos and the pages' CSP loads images over https only, so the form asks for https.
import type { Photo } from "../../shared/api";
import type { Codec } from "./editing";

export type { Photo };

export const MAX_PHOTOS = 20;
export const PHOTO_URL_MAX = 2000;
export const PHOTO_ALT_MAX = 300;
const HTTPS_URL = /^https:\/\/[^\s/?#]+[^\s]*$/i;

/** True when the widget (and this page's CSP) would load `url`: an absolute https address. */
export function isHttpsUrl(url: string): boolean {
  return HTTPS_URL.test(url.trim());
}

export function readPhotos(text: string): Photo[] {
  if (!text) return [];
  const list = JSON.parse(text) as Photo[];
  return list.map((p) => ({ url: String(p.url ?? ""), alt: String(p.alt ?? "") }));
}

export const writePhotos = (photos: Photo[]): string => (photos.length ? JSON.stringify(photos) : "");

/** `photos` with the one at `from` moved to `to` (both within the list). */
export function movePhoto(photos: Photo[], from: number, to: number): Photo[] {
  if (to < 0 || to >= photos.length || from === to) return photos;
  const moved = [...photos];
  const [photo] = moved.splice(from, 1);
  moved.splice(to, 0, photo);
  return moved;
}

/** The problems of each photo by API field name ("photos[0].alt"), in words. */
export function photoProblems(photos: Photo[], prefix = "photos"): Record<string, string> {
  const problems: Record<string, string> = {};
  if (photos.length > MAX_PHOTOS) problems[prefix] = `A package has at most ${MAX_PHOTOS} photos: remove ${photos.length - MAX_PHOTOS}.`;
  photos.forEach((photo, n) => {
    const url = photo.url.trim();
    const alt = photo.alt.trim();
    const where = `${prefix}[${n}]`;
    if (!url) problems[`${where}.url`] = "Write the photo’s address, starting with https://.";
    else if (!isHttpsUrl(url)) problems[`${where}.url`] = "Use an https:// address: the booking widget shows only photos served over https.";
    else if (url.length > PHOTO_URL_MAX) problems[`${where}.url`] = `Use an address of at most ${PHOTO_URL_MAX} characters.`;
    if (!alt) problems[`${where}.alt`] = "Describe the photo: couples who use a screen reader hear this text instead of seeing it.";
    else if (alt.length > PHOTO_ALT_MAX) problems[`${where}.alt`] = `Describe it in at most ${PHOTO_ALT_MAX} characters.`;
  });
  return problems;
}

/** The error of photo `n`'s `part` ("url" or "alt") among field errors, whether the API wrote
 * "photos[2].url" (the catalog) or "photos.2.url" (the gateway's request checks). */
export function photoError(errors: Record<string, string>, n: number, part: "url" | "alt", prefix = "photos"): string | null {
  return errors[`${prefix}[${n}].${part}`] ?? errors[`${prefix}.${n}.${part}`] ?? errors[`${prefix}[${n}]`] ?? errors[`${prefix}.${n}`] ?? null;
}

export function photosCodec(prefix = "photos"): Codec {
  return {
    toForm: (value) => (Array.isArray(value) ? writePhotos(value as Photo[]) : ""),
    fromForm: (text) => {
      const photos = readPhotos(text);
      const problems = photoProblems(photos, prefix);
      if (Object.keys(problems).length) return { errors: problems };
      return { value: photos.map((p) => ({ url: p.url.trim(), alt: p.alt.trim() })) };
    },
    shown: (text) => {
      const photos = readPhotos(text);
      if (!photos.length) return "no photos";
      return `${photos.length === 1 ? "1 photo" : `${photos.length} photos`}: ${photos.map((p) => p.alt.trim() || p.url).join("; ")}`;
    },
  };
}
