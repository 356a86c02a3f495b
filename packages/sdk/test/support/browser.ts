/**
 * Headless Chromium from Debian (/usr/bin/chromium) driven by playwright-core, and the person's side
 * of the device flow: open the link, confirm the code, sign in, enter the TOTP code, approve or deny.
 */
import { existsSync } from 'node:fs';
import { Secret, TOTP } from 'otpauth';
import { type Browser, chromium } from 'playwright-core';
import { PASSWORD } from './server.js';

export const CHROMIUM = process.env.CLAVIS_CHROMIUM ?? '/usr/bin/chromium';

export function chromiumAvailable(): boolean {
  return existsSync(CHROMIUM);
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** A person with a password and an enrolled TOTP; each TOTP step is used once. */
export class Person {
  private lastStep = 0;
  private readonly totp: TOTP;

  constructor(
    readonly username: string,
    totpSecret: string,
  ) {
    this.totp = new TOTP({ secret: Secret.fromBase32(totpSecret), algorithm: 'SHA1', digits: 6, period: 30 });
  }

  /** Goes through the pages for `link` and clicks `decision`. */
  async approve(browser: Browser, link: string, decision: 'Approve' | 'Deny' = 'Approve'): Promise<void> {
    const context = await browser.newContext();
    const page = await context.newPage();
    try {
      await page.goto(link);
      await page.getByRole('button', { name: 'Continue' }).click();
      if (await page.getByLabel('Username').count()) {
        await page.getByLabel('Username').fill(this.username);
        await page.getByLabel('Password').fill(PASSWORD);
        await page.getByRole('button', { name: /sign in|continue/i }).click();
      }
      if (await page.getByLabel('Authentication code').count()) {
        // The current step (the server accepts ±1, so crossing a boundary meanwhile is fine), each once.
        const step = Math.max(Math.floor(Date.now() / 30_000), this.lastStep + 1);
        this.lastStep = step;
        await page
          .getByLabel('Authentication code')
          .fill(this.totp.generate({ timestamp: step * 30_000 + 1 }));
        await page.getByRole('button', { name: /verify|continue/i }).click();
      }
      await page.getByRole('button', { name: decision }).click();
      await page.waitForLoadState();
    } finally {
      await context.close();
    }
  }
}
