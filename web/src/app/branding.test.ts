import { describe, expect, it } from "vitest";
import { applyBranding, contrastRatio, parseHex, relativeLuminance, SAFE_PRIMARY, safeFont, safePrimary } from "./branding";

describe("contrast", () => {
  it("computes WCAG relative luminance and contrast", () => {
    expect(relativeLuminance([255, 255, 255])).toBeCloseTo(1, 5);
    expect(relativeLuminance([0, 0, 0])).toBe(0);
    expect(contrastRatio([0, 0, 0], [255, 255, 255])).toBeCloseTo(21, 5);
    // #767676 on white is the well-known 4.54:1 grey.
    expect(contrastRatio(parseHex("#767676")!, [255, 255, 255])).toBeCloseTo(4.54, 2);
    expect(contrastRatio([255, 255, 255], parseHex("#777777")!)).toBeCloseTo(4.48, 2);
  });

  it("reads #rgb and #rrggbb and nothing else", () => {
    expect(parseHex("#fff")).toEqual([255, 255, 255]);
    expect(parseHex("#1F4D3A")).toEqual([31, 77, 58]);
    expect(parseHex("red")).toBeNull();
    expect(parseHex("#12345")).toBeNull();
    expect(parseHex("url(x)")).toBeNull();
  });
});

describe("safePrimary", () => {
  it("keeps a colour white text reads on", () => {
    expect(safePrimary("#7A2E4D")).toBe("#7a2e4d");
    expect(safePrimary("#767676")).toBe("#767676");
  });

  it("falls back when white text on it is below 4.5:1, or it is not a colour", () => {
    expect(safePrimary("#777777")).toBe(SAFE_PRIMARY);
    expect(safePrimary("#ffd700")).toBe(SAFE_PRIMARY);
    expect(safePrimary("#ffffff")).toBe(SAFE_PRIMARY);
    expect(safePrimary("")).toBe(SAFE_PRIMARY);
    expect(safePrimary("red;background:url(x)")).toBe(SAFE_PRIMARY);
    expect(safePrimary(null)).toBe(SAFE_PRIMARY);
  });
});

describe("applyBranding", () => {
  it("sets the custom properties, with the fallback for a pale primary", () => {
    const root = document.createElement("div");
    applyBranding({ primaryColor: "#f0e68c", secondaryColor: "#c9a96e", font: "Playfair Display" }, root);
    expect(root.style.getPropertyValue("--mais-primary")).toBe(SAFE_PRIMARY);
    expect(root.style.getPropertyValue("--mais-secondary")).toBe("#c9a96e");
    expect(root.style.getPropertyValue("--mais-font")).toContain('"Playfair Display"');
  });

  it("refuses a font name that could break out of the declaration", () => {
    expect(safeFont('Arial"; color: red')).toBeNull();
    expect(safeFont("Cormorant Garamond")).toBe("Cormorant Garamond");
  });
});
