// Colour arithmetic for the operator's brand colour: WCAG 2.1 relative luminance and
// contrast ratio, and the text colour (black or white) that reads best on a background.

/** [r, g, b] 0–255 from "#rgb" or "#rrggbb"; null for anything else */
export function parseHex(hex: string): [number, number, number] | null {
  const m = /^#?([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(hex.trim());
  if (!m) return null;
  const x = m[1].length === 3 ? m[1].replace(/./g, "$&$&") : m[1];
  return [0, 2, 4].map((i) => parseInt(x.slice(i, i + 2), 16)) as [number, number, number];
}

/** relative luminance (WCAG 2.1, sRGB) of "#rrggbb" */
export function luminance(hex: string): number {
  const c = parseHex(hex) || [0, 0, 0];
  const [r, g, b] = c.map((v) => { v /= 255; return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** contrast ratio (1–21) between two colours */
export function contrast(a: string, b: string): number {
  const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
}

/** "#000000" or "#ffffff", whichever contrasts more with the background */
export function textOn(bg: string): string {
  return contrast(bg, "#000000") >= contrast(bg, "#ffffff") ? "#000000" : "#ffffff";
}
