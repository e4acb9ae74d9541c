// Amounts travel in the currency's minor unit (cents; yen have none; dinars have three). Intl knows
// each currency's digits: the formatter's maximumFractionDigits is the exponent to divide by.

const formatters = new Map<string, Intl.NumberFormat>();

function formatter(currency: string, locale: string): Intl.NumberFormat {
  const key = `${locale}|${currency}`;
  let found = formatters.get(key);
  if (!found) {
    found = new Intl.NumberFormat(locale, { style: "currency", currency });
    formatters.set(key, found);
  }
  return found;
}

/** The number of minor-unit digits of `currency` (USD 2, JPY 0, KWD 3). */
export function minorDigits(currency: string): number {
  return formatter(currency.toUpperCase(), "en").resolvedOptions().maximumFractionDigits ?? 2;
}

/** `minor` units of `currency` as the couple's locale writes money, e.g. 123400 USD → "$1,234.00". */
export function formatMoney(minor: number, currency: string, locale: string = userLocale()): string {
  const code = currency.toUpperCase();
  try {
    const format = formatter(code, locale);
    const digits = format.resolvedOptions().maximumFractionDigits ?? 2;
    return format.format(minor / 10 ** digits);
  } catch {
    // An unknown code (or locale): the amount is still right, in plain digits.
    return `${(minor / 100).toFixed(2)} ${code}`;
  }
}

/** The couple's language, from the browser. */
export function userLocale(): string {
  const language = typeof navigator !== "undefined" ? navigator.language : "";
  try {
    return Intl.getCanonicalLocales(language || "en")[0] ?? "en";
  } catch {
    return "en";
  }
}
