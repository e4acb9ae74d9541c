// The business's colours, font and logo, applied as CSS custom properties on <html> (CSSOM, which
// the pages' CSP allows; never a style attribute or element). A primary colour that white button text
// cannot be read on (WCAG contrast below 4.5:1) falls back to the platform's own.

import type { Branding } from "../shared/api";

export const SAFE_PRIMARY = "#1f4d3a";
export const DEFAULT_SECONDARY = "#b08d57";
const MIN_CONTRAST = 4.5;
const HEX = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i;
const FONT_NAME = /^[A-Za-z0-9][A-Za-z0-9 _-]{0,63}$/;

/** [r, g, b] 0-255 of a #rgb or #rrggbb colour, or null. */
export function parseHex(color: string): [number, number, number] | null {
  const text = color.trim();
  if (!HEX.test(text)) return null;
  let hex = text.slice(1);
  if (hex.length === 3) hex = [...hex].map((c) => c + c).join("");
  return [0, 2, 4].map((i) => parseInt(hex.slice(i, i + 2), 16)) as [number, number, number];
}

/** WCAG 2 relative luminance of an sRGB colour. */
export function relativeLuminance([r, g, b]: [number, number, number]): number {
  const linear = (channel: number) => {
    const c = channel / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
}

/** WCAG contrast ratio of two colours, 1 to 21. */
export function contrastRatio(a: [number, number, number], b: [number, number, number]): number {
  const [light, dark] = [relativeLuminance(a), relativeLuminance(b)].sort((x, y) => y - x);
  return (light + 0.05) / (dark + 0.05);
}

/** The primary colour to use: the business's when white text on it reads at 4.5:1, else the safe one. */
export function safePrimary(color: string | null | undefined): string {
  const rgb = parseHex(color ?? "");
  if (!rgb || contrastRatio(rgb, [255, 255, 255]) < MIN_CONTRAST) return SAFE_PRIMARY;
  return color!.trim().toLowerCase();
}

/** A secondary (decorative) colour: any valid hex, else the default. */
export function safeSecondary(color: string | null | undefined): string {
  return parseHex(color ?? "") ? color!.trim().toLowerCase() : DEFAULT_SECONDARY;
}

/** A font family name that can be put in CSS as it is (quoted), or null. */
export function safeFont(font: string | null | undefined): string | null {
  const name = (font ?? "").trim();
  return FONT_NAME.test(name) ? name : null;
}

/** A logo the page may show (img-src allows the platform and https:). */
export function safeLogo(url: string | null | undefined): string | null {
  if (!url) return null;
  try {
    const parsed = new URL(url, location.href);
    if (parsed.protocol === "https:" || parsed.origin === location.origin) return parsed.href;
  } catch {
    // not a URL: no logo
  }
  return null;
}

export function applyBranding(branding: Partial<Branding> | null | undefined, root: HTMLElement = document.documentElement) {
  root.style.setProperty("--mais-primary", safePrimary(branding?.primaryColor));
  root.style.setProperty("--mais-secondary", safeSecondary(branding?.secondaryColor));
  const font = safeFont(branding?.font);
  if (font) root.style.setProperty("--mais-font", `"${font}", system-ui, sans-serif`);
  else root.style.removeProperty("--mais-font");
}
