/** The single sign-on parts of the verification pages: the provider buttons on the sign-in page. */
import { html, type SafeHtml } from './html.js';

export interface ProviderChoice {
  id: string;
  name: string;
}

/** "Sign in with NAME" for each provider: plain links (the browser leaves for the provider). */
export function providerButtons(csrf: string, providers: readonly ProviderChoice[]): SafeHtml {
  if (providers.length === 0) return html``;
  return html`<ul class="providers">${providers.map(
    (p) =>
      html`<li><a class="button" href="/device/sso/start?idp=${encodeURIComponent(p.id)}&amp;csrf=${encodeURIComponent(csrf)}">Sign in with ${p.name}</a></li>`,
  )}</ul>`;
}
