#!/usr/bin/env node
// invoices: a complete CLI on @clavis/sdk. `invoices login | whoami | logout | list`.
// A person runs `invoices login` once; a service, a CI job or a cron job just runs `invoices list`.
import { ClavisError, createClient, lastServer } from '@clavis/sdk';

const issuer = process.env.CLAVIS_SERVER ?? (await lastServer(process.env)) ?? 'http://127.0.0.1:8080';
const api = process.env.INVOICES_API ?? 'http://127.0.0.1:9000';
const client = createClient({ issuer, clientId: 'clavis-cli', scopes: ['invoices:read'] });

async function main(command) {
  switch (command) {
    case 'login': {
      const token = await client.login({
        onCode: ({ userCode, verificationUriComplete }) =>
          console.error(`Open ${verificationUriComplete}\nand check that it shows ${userCode}`),
        openBrowser: true,
      });
      return console.error(
        `Logged in as ${token.principal.username ?? token.principal.sub} (${token.store})`,
      );
    }
    case 'whoami':
      return console.log(JSON.stringify(await client.whoami()));
    case 'logout':
      return console.log(JSON.stringify(await client.logout()));
    case 'list': {
      const res = await client.fetch(`${api}/invoices`); // bearer added, refreshed and retried once on 401
      if (!res.ok) throw new Error(`the invoices API answered HTTP ${res.status}`);
      for (const invoice of await res.json()) console.log(`${invoice.id}\t${invoice.amount}`);
      return;
    }
    default:
      throw new Error('usage: invoices login | whoami | logout | list');
  }
}

try {
  await main(process.argv[2]);
} catch (err) {
  console.error(`invoices: ${err.message}`); // SDK messages never hold a secret
  const auth = ['no_credentials', 'personal_token_in_ci', 'not_logged_in'];
  process.exitCode = err instanceof ClavisError && auth.includes(err.code) ? 4 : 1;
}
