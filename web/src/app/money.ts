// Amounts travel in the currency's minor unit as Stripe counts it: hundredths, except Stripe's zero-decimal
// currencies (yen: none) and three-decimal ones (dinars: thousandths). Intl's own digit counts differ for
// some currencies (HUF, ISK, IDR ...), so the divisor is Stripe's, the same table as mais_runtime/money.py
// (tests/unit/test_web_money_digits.py checks that the two agree), and Intl only writes the number.

export const ZERO_DECIMAL = new Set("bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split(" "));
export const THREE_DECIMAL = new Set("bhd jod kwd omr tnd".split(" "));

const formatters = new Map<string, Intl.NumberFormat>();

function formatter(currency: string, locale: string, digits: number): Intl.NumberFormat {
  const key = `${locale}|${currency}`;
  let found = formatters.get(key);
  if (!found) {
    found = new Intl.NumberFormat(locale, {
      style: "currency",
      currency,
      minimumFractionDigits: digits,
      maximumFractionDigits: digits,
    });
    formatters.set(key, found);
  }
  return found;
}

/** The number of minor-unit digits of `currency` as Stripe counts them (USD 2, JPY 0, KWD 3, HUF 2). */
export function minorDigits(currency: string): number {
  const code = currency.toLowerCase();
  return ZERO_DECIMAL.has(code) ? 0 : THREE_DECIMAL.has(code) ? 3 : 2;
}

/** `minor` units of `currency` as the couple's locale writes money, e.g. 123400 USD → "$1,234.00". */
export function formatMoney(minor: number, currency: string, locale: string = userLocale()): string {
  const code = currency.toUpperCase();
  const digits = minorDigits(code);
  const amount = minor / 10 ** digits;
  try {
    return formatter(code, locale, digits).format(amount);
  } catch {
    // An unknown code (or locale): the amount is still right, in plain digits.
    return `${amount.toFixed(digits)} ${code}`;
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
