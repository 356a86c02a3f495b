/**
 * A QR code for a terminal: two modules per character cell with Unicode half blocks, inside a quiet zone,
 * in explicit black on white so it reads the same whatever the terminal's background is (a code drawn in
 * the default colours comes out inverted on a dark background, and many phone readers give up on that).
 */
import { encode } from 'uqr';

/** Black foreground (a dark module) on bright white background (a light module). */
const BLACK_ON_WHITE = '\x1b[30;107m';
const RESET = '\x1b[0m';

/** The light margin ISO/IEC 18004 asks for around the code, in modules. */
export const defaultQuietZone = 4;

export interface QrRenderOptions {
  /** Light modules around the code; 4 by default. */
  quietZone?: number;
}

/**
 * Renders TEXT (a URL) as lines of half blocks, each line wrapped in its colours and reset at its end, so
 * nothing bleeds into what is printed after it. The string ends with a newline.
 *
 * @example
 * stderr.write(renderQrCode('https://id.example.com/device?user_code=BCDF-GHJK'));
 */
export function renderQrCode(text: string, options: QrRenderOptions = {}): string {
  const quiet = options.quietZone ?? defaultQuietZone;
  if (!Number.isInteger(quiet) || quiet < 0) throw new RangeError('quietZone must be a whole number ≥ 0');
  const { data, size } = encode(text, { ecc: 'L', border: 0 });
  const width = size + 2 * quiet;
  // Outside the code is the quiet zone: light.
  const dark = (row: number, column: number): boolean => data[row - quiet]?.[column - quiet] === true;
  const lines: string[] = [];
  for (let row = 0; row < width; row += 2) {
    let cells = '';
    for (let column = 0; column < width; column++) {
      const top = dark(row, column);
      const bottom = row + 1 < width && dark(row + 1, column);
      cells += top ? (bottom ? '█' : '▀') : bottom ? '▄' : ' ';
    }
    lines.push(`${BLACK_ON_WHITE}${cells}${RESET}`);
  }
  return `${lines.join('\n')}\n`;
}
