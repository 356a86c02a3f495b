/**
 * What a terminal shows for text with half blocks and SGR colours, as pixels, and reading a QR code off
 * those pixels with jsqr, as a phone camera would (never trying the inverted image).
 */
import { createRequire } from 'node:module';

// jsqr is a UMD bundle whose function is `module.exports.default`; require reaches it the same way under
// Node and under vitest, where a default import does not.
const { default: jsQR } = createRequire(import.meta.url)('jsqr') as typeof import('jsqr');

export type Rgb = readonly [number, number, number];
export interface Theme {
  foreground: Rgb;
  background: Rgb;
}
export const darkTheme: Theme = { foreground: [229, 229, 229], background: [0, 0, 0] };
export const lightTheme: Theme = { foreground: [0, 0, 0], background: [255, 255, 255] };
/** The SGR colours the renderer may use, as a typical terminal palette shows them. */
const palette: Record<number, Rgb> = {
  30: [0, 0, 0],
  97: [255, 255, 255],
  40: [0, 0, 0],
  107: [255, 255, 255],
};

/**
 * What a terminal with THEME shows for TEXT: one pixel column per cell, two pixel rows per line (the upper
 * and lower half of the cell), in the colours the escape sequences select. Colours carry over from one
 * line to the next, as on a terminal.
 */
export function paint(text: string, theme: Theme): Rgb[][] {
  const rows: Rgb[][] = [];
  let foreground = theme.foreground;
  let background = theme.background;
  for (const line of text.replace(/\n$/, '').split('\n')) {
    const top: Rgb[] = [];
    const bottom: Rgb[] = [];
    // biome-ignore lint/suspicious/noControlCharactersInRegex: tokenizing terminal escape sequences.
    for (const token of line.match(/\x1b\[[0-9;]*m|[^\x1b]/gu) ?? []) {
      if (token.startsWith('\x1b[')) {
        for (const code of token.slice(2, -1).split(';').map(Number)) {
          if (code === 0) [foreground, background] = [theme.foreground, theme.background];
          else if (code === 39) foreground = theme.foreground;
          else if (code === 49) background = theme.background;
          else if ((code >= 30 && code <= 37) || (code >= 90 && code <= 97)) foreground = colour(code);
          else if ((code >= 40 && code <= 47) || (code >= 100 && code <= 107)) background = colour(code);
          else throw new Error(`unexpected SGR ${code}`);
        }
        continue;
      }
      const upper = token === '█' || token === '▀';
      const lower = token === '█' || token === '▄';
      if (!upper && !lower && token !== ' ') throw new Error(`unexpected character ${JSON.stringify(token)}`);
      top.push(upper ? foreground : background);
      bottom.push(lower ? foreground : background);
    }
    rows.push(top, bottom);
  }
  return rows;
}

function colour(code: number): Rgb {
  const rgb = palette[code];
  if (!rgb) throw new Error(`no palette entry for SGR ${code}`);
  return rgb;
}

/** Reads PIXELS (scaled up, as a camera would see them) with jsQR, refusing to try an inverted image. */
export function decode(pixels: Rgb[][], scale = 4): string | undefined {
  const height = pixels.length * scale;
  const width = (pixels[0]?.length ?? 0) * scale;
  const data = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [r, g, b] = pixels[Math.floor(y / scale)]?.[Math.floor(x / scale)] ?? [255, 0, 0];
      data.set([r, g, b, 255], (y * width + x) * 4);
    }
  }
  return jsQR(data, width, height, { inversionAttempts: 'dontInvert' })?.data;
}
