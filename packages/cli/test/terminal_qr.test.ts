import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { renderQrCode } from '../src/terminal/qr.js';

// jsqr is a UMD bundle whose function is `module.exports.default`; require reaches it the same way under
// Node and under vitest, where a default import does not.
const { default: jsQR } = createRequire(import.meta.url)('jsqr') as typeof import('jsqr');

type Rgb = readonly [number, number, number];
interface Theme {
  foreground: Rgb;
  background: Rgb;
}
const darkTheme: Theme = { foreground: [229, 229, 229], background: [0, 0, 0] };
const lightTheme: Theme = { foreground: [0, 0, 0], background: [255, 255, 255] };
/** The SGR colours the renderer may use, as a typical terminal palette shows them. */
const palette: Record<number, Rgb> = {
  30: [0, 0, 0],
  97: [255, 255, 255],
  40: [0, 0, 0],
  107: [255, 255, 255],
};

/**
 * What a terminal with THEME shows for TEXT: one pixel column per cell, two pixel rows per line (the upper
 * and lower half of the cell), in the colours the escape sequences select.
 */
function paint(text: string, theme: Theme): Rgb[][] {
  const rows: Rgb[][] = [];
  for (const line of text.replace(/\n$/, '').split('\n')) {
    let foreground = theme.foreground;
    let background = theme.background;
    const top: Rgb[] = [];
    const bottom: Rgb[] = [];
    // biome-ignore lint/suspicious/noControlCharactersInRegex: tokenizing terminal escape sequences.
    for (const token of line.match(/\x1b\[[0-9;]*m|[^\x1b]/gu) ?? []) {
      if (token.startsWith('\x1b[')) {
        for (const code of token.slice(2, -1).split(';').map(Number)) {
          if (code === 0) [foreground, background] = [theme.foreground, theme.background];
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
function decode(pixels: Rgb[][], scale = 4): string | undefined {
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

// biome-ignore lint/suspicious/noControlCharactersInRegex: removing terminal escape sequences.
const stripColours = (text: string): string => text.replace(/\x1b\[[0-9;]*m/g, '');

const url = 'https://id.example.com/device?user_code=BCDF-GHJK';

describe('renderQrCode', () => {
  it('reads back as the URL on a dark background and on a light one', () => {
    const text = renderQrCode(url);
    expect(decode(paint(text, darkTheme))).toBe(url);
    expect(decode(paint(text, lightTheme))).toBe(url);
  });

  it('reads back long URLs with every byte intact', () => {
    const long = `https://id.example.com/device?user_code=BCDF-GHJK&state=${'xY9-_'.repeat(40)}&é=ü`;
    expect(decode(paint(renderQrCode(long), darkTheme))).toBe(long);
  });

  it('fails to read without its colours on a dark background: the test sees an inverted code', () => {
    const text = stripColours(renderQrCode(url));
    expect(decode(paint(text, darkTheme))).toBeUndefined();
    expect(decode(paint(text, lightTheme))).toBe(url);
  });

  it('puts a light quiet zone of 4 modules around the code, and resets colours on every line', () => {
    const text = renderQrCode(url);
    const lines = text.replace(/\n$/, '').split('\n');
    for (const line of lines) {
      expect(line.startsWith('\x1b[30;107m')).toBe(true);
      expect(line.endsWith('\x1b[0m')).toBe(true);
    }
    const cells = stripColours(text).replace(/\n$/, '').split('\n');
    const width = cells[0]?.length ?? 0;
    expect(cells.every((line) => [...line].length === width)).toBe(true);
    expect(cells.slice(0, 2).every((line) => line.trim() === '')).toBe(true); // 4 module rows
    expect(cells.every((line) => line.startsWith('    ') && line.endsWith('    '))).toBe(true);
    // The last line holds the bottom module row(s): the code ends 4 rows before the margin's end.
    expect(cells.slice(-2).every((line) => line.trim() === '')).toBe(true);
  });

  it('honours a smaller quiet zone and refuses a nonsensical one', () => {
    const cells = stripColours(renderQrCode(url, { quietZone: 1 })).split('\n');
    expect(cells[0]?.startsWith(' ▄')).toBe(true);
    expect(decode(paint(renderQrCode(url, { quietZone: 1 }), lightTheme))).toBe(url);
    expect(() => renderQrCode(url, { quietZone: -1 })).toThrow(RangeError);
    expect(() => renderQrCode(url, { quietZone: 1.5 })).toThrow(RangeError);
  });
});
