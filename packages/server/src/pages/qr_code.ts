/**
 * A QR code as inline SVG, rendered on the server (no script, no image request): the `otpauth://` URI at
 * TOTP enrolment, so a phone can scan it instead of someone typing 32 characters.
 */
import { encode } from 'uqr';
import { html, type SafeHtml } from './html.js';

export function qrCodeSvg(text: string, label: string): SafeHtml {
  const { data, size } = encode(text, { ecc: 'M', border: 2 });
  let path = '';
  data.forEach((row, y) => {
    row.forEach((dark, x) => {
      if (dark) path += `M${x},${y}h1v1h-1z`;
    });
  });
  return html`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${size} ${size}" width="200" height="200" role="img" aria-label="${label}" shape-rendering="crispEdges"><rect width="${size}" height="${size}" fill="#fff"/><path d="${path}" fill="#000"/></svg>`;
}
