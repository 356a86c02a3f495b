/**
 * `CLAVIS_METRICS` and `CLAVIS_METRICS_LISTEN`, read by `clavis serve`: off by default, `1` on the main
 * port, HOST:PORT its own listener (which wins); a bad value is one line naming the variable.
 */
import { describe, expect, it } from 'vitest';
import { serveEnvSettings } from '../src/commands/serve_settings.js';
import { CliError } from '../src/errors.js';

const metrics = (env: Record<string, string>) => serveEnvSettings(env).metrics;

describe('serve metrics settings', () => {
  it('off by default, on the main port with CLAVIS_METRICS=1, on a listener with CLAVIS_METRICS_LISTEN', () => {
    expect(metrics({})).toBe('off');
    expect(metrics({ CLAVIS_METRICS: '0' })).toBe('off');
    expect(metrics({ CLAVIS_METRICS: '1' })).toBe('main');
    expect(metrics({ CLAVIS_METRICS_LISTEN: '127.0.0.1:9464' })).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(metrics({ CLAVIS_METRICS: '1', CLAVIS_METRICS_LISTEN: '[::1]:9464' })).toEqual({
      host: '::1',
      port: 9464,
    });
    expect(metrics({ CLAVIS_METRICS_LISTEN: 'metrics.internal:9100' })).toEqual({
      host: 'metrics.internal',
      port: 9100,
    });
  });

  it.each([
    [{ CLAVIS_METRICS: 'yes' }, /^CLAVIS_METRICS: "yes" is not one of 0, 1$/],
    [{ CLAVIS_METRICS_LISTEN: '9464' }, /^CLAVIS_METRICS_LISTEN: "9464" is not HOST:PORT/],
    [{ CLAVIS_METRICS_LISTEN: '::1:9464' }, /^CLAVIS_METRICS_LISTEN: /],
    [{ CLAVIS_METRICS_LISTEN: '[nothost]:9464' }, /^CLAVIS_METRICS_LISTEN: /],
    [{ CLAVIS_METRICS_LISTEN: '127.0.0.1:99999' }, /^CLAVIS_METRICS_LISTEN: port "99999"/],
    [{ CLAVIS_METRICS_LISTEN: 'bad host!:80' }, /^CLAVIS_METRICS_LISTEN: /],
    [{ CLAVIS_METRICS_LISTEN: `${'a'.repeat(300)}:80` }, /^CLAVIS_METRICS_LISTEN: /],
  ])('%o is refused with one line naming the variable', (env, message) => {
    let error: unknown;
    try {
      metrics(env);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(CliError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('\n');
  });
});
