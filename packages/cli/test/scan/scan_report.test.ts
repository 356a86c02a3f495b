/**
 * `clavis scan --report URL` against a real server listening on loopback: the verified keys found are
 * sent to the leak report endpoint named in its discovery document, a live one is revoked (the
 * verification endpoint then refuses it), one the server does not know is counted as unknown, and
 * nothing sends or prints the keys anywhere else. A refusal by the server is exit 3.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { generateApiKey } from '@clavis/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../../../test/support/listening_server.js';
import { tempDir } from '../../../../test/support/temp_dir.js';
import { runScan, type ScanDeps } from '../../src/commands/scan_run.js';
import { CliError } from '../../src/errors.js';
import { BIN, NODE, TextSink } from '../support/cli.js';

describe('clavis scan --report', () => {
  let server: TestServer;
  let dir: string;
  let remove: () => void;
  let verifier: { clientId: string; secret: string };
  let owner: string;

  beforeAll(async () => {
    server = await startTestServer();
    ({ path: dir, remove } = tempDir('clavis-scan-report-'));
    const rs = await server.createClient({ name: 'resource server', kind: 'confidential' });
    verifier = { clientId: rs.clientId, secret: rs.secret ?? '' };
    owner = (await server.createClient({ name: 'automation', kind: 'confidential' })).clientId;
  });
  afterAll(async () => {
    remove();
    await server.close();
  });

  /** The verification endpoint's status for the key: 200 live, 401 unusable. */
  async function verifyStatus(key: string): Promise<number> {
    const res = await fetch(`${server.issuer}/oauth/api-keys/verify`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${verifier.clientId}:${verifier.secret}`).toString('base64')}`,
      },
      body: new URLSearchParams({ key, ip: '127.0.0.1' }),
    });
    return res.status;
  }

  function deps(sent: string[] = []): ScanDeps & { stdout: TextSink; stderr: TextSink } {
    return {
      stdout: new TextSink(),
      stderr: new TextSink(),
      stdin: Readable.from(['']),
      stdinPiped: false,
      cwd: dir,
      // The real fetch, with every URL it is asked for noted.
      fetch: (input, init) => {
        sent.push(String(input));
        return fetch(input, init);
      },
      selfCommand: [NODE, BIN],
    };
  }

  it('revokes the live key found and counts the unknown one', async () => {
    const live = await server.createApiKey(owner, ['invoices:read']);
    const unknown = generateApiKey();
    writeFileSync(join(dir, 'a.env'), `LIVE=${live}\nAGAIN=${live}\nUNKNOWN=${unknown}\n`);
    expect(await verifyStatus(live)).toBe(200);

    const sent: string[] = [];
    const d = deps(sent);
    const err = await runScan({ paths: ['a.env'], report: server.issuer }, d).catch((e: unknown) => e);
    expect((err as CliError).exitCode).toBe(1); // findings
    expect(d.stderr.text).toContain(
      `reported 2 Clavis keys to ${server.issuer}: 1 revoked, 1 unknown or already inactive\n`,
    );
    expect(sent).toEqual([
      `${server.issuer}/.well-known/oauth-authorization-server`,
      `${server.issuer}/oauth/api-keys/leaks`,
    ]);
    expect(await verifyStatus(live)).toBe(401);
    const leaked = await server.audit('api_key.leaked');
    expect(leaked[0]?.detail).toMatchObject({
      url: 'a.env:1',
      source: 'clavis scan',
      type: 'clavis_api_key',
    });
    expect(d.stdout.text + d.stderr.text).not.toContain(live);

    // Again: nothing left to revoke; --json carries the counts.
    const again = deps();
    await runScan({ paths: ['a.env'], report: server.issuer, json: true }, again).catch(() => {});
    expect(JSON.parse(again.stdout.text).report).toEqual({ reported: 2, revoked: 0, unknown: 2 });
  });

  it('with no verified key nothing is sent', async () => {
    writeFileSync(join(dir, 'clean.txt'), 'nothing\n');
    const sent: string[] = [];
    const d = deps(sent);
    await runScan({ paths: ['clean.txt'], report: server.issuer }, d);
    expect(sent).toEqual([]);
    expect(d.stderr.text).toContain('no verified Clavis key to report\n');
  });

  it('a server without the endpoint, or refusing the report, is exit 3 with one line', async () => {
    writeFileSync(join(dir, 'k.txt'), `${generateApiKey()}\n`);
    const noDiscovery = await runScan(
      { paths: ['k.txt'], report: `${server.issuer}/nothing-here` },
      deps(),
    ).catch((e: unknown) => e);
    expect(noDiscovery).toBeInstanceOf(CliError);
    expect((noDiscovery as CliError).exitCode).toBe(3);
    expect((noDiscovery as CliError).message).toBe(
      `${server.issuer}/nothing-here: discovery answered HTTP 404`,
    );

    const refusing = await startTestServer({ apiKeyLeakReportsPerIpPerMinute: 1 });
    try {
      await runScan({ paths: ['k.txt'], report: refusing.issuer }, deps()).catch(() => {});
      const err = await runScan({ paths: ['k.txt'], report: refusing.issuer }, deps()).catch(
        (e: unknown) => e,
      );
      expect((err as CliError).exitCode).toBe(3);
      expect((err as CliError).message).toBe('the leak report endpoint answered HTTP 429');
    } finally {
      await refusing.close();
    }
  });
});
