import { describe, expect, it } from 'vitest';
import { renderQrCode } from '../src/terminal/qr.js';
import { darkTheme, decode, lightTheme, paint } from './support/terminal_image.js';

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
