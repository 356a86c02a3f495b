/**
 * HTML with every interpolation escaped: `html\`<p>${userText}</p>\`` escapes `userText`; a nested
 * `html\`…\`` (or an array of them) is inserted as is. There is no other way to build markup here.
 */

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
};

/** Escapes text for HTML element content and quoted attribute values. */
function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (ch) => ESCAPES[ch] ?? ch);
}

/** Markup that is already safe. Only `html` makes these. */
export class SafeHtml {
  readonly #text: string;

  constructor(text: string, token: typeof MINT) {
    if (token !== MINT) throw new Error('SafeHtml is made by html`…` only');
    this.#text = text;
  }

  toString(): string {
    return this.#text;
  }
}

const MINT = Symbol('SafeHtml');

type HtmlValue = SafeHtml | string | number | null | undefined | false | readonly HtmlValue[];

function render(value: HtmlValue): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof SafeHtml) return value.toString();
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let out = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) out += render(values[i]) + (strings[i + 1] ?? '');
  return new SafeHtml(out, MINT);
}
