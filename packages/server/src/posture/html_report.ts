/**
 * The posture report as one self-contained HTML page for a security lead: the summary score, a chart of
 * the live credentials by kind and age (inline SVG, drawn here), and the findings with their fixes.
 * Inline CSS only, no script, no external resource; its Content-Security-Policy forbids loading any.
 */
import { html, type SafeHtml } from '../pages/html.js';
import { type Severity, severities } from './finding.js';
import { referenceNames } from './references.js';
import { ageBands, type CredentialAges, type CredentialKind, type PostureReport } from './report.js';

const kindLabels: Record<CredentialKind, string> = {
  api_key: 'API keys',
  client_secret: 'Client secrets',
  private_key_jwt: 'private_key_jwt clients',
  federation: 'Federations',
};

/** Young to old: green to red. */
const bandColours = ['#2e7d32', '#7cb342', '#f9a825', '#ef6c00', '#c62828'];

const severityColours: Record<Severity, string> = {
  critical: '#8e0000',
  high: '#c62828',
  medium: '#ef6c00',
  low: '#f9a825',
  info: '#607d8b',
};

/** Horizontal stacked bars: one row per kind, one segment per age band. */
function chart(credentials: readonly CredentialAges[]): SafeHtml {
  const labelWidth = 190;
  const barWidth = 420;
  const rowHeight = 34;
  const top = 10;
  const max = Math.max(1, ...credentials.map((c) => c.counts.reduce((a, b) => a + b, 0)));
  const height = top + credentials.length * rowHeight + 50;
  const rows = credentials.map((c, row) => {
    const y = top + row * rowHeight;
    const total = c.counts.reduce((a, b) => a + b, 0);
    let x = labelWidth;
    const segments = c.counts.map((count, band) => {
      const w = (count / max) * barWidth;
      const rect = count
        ? html`<rect x="${x.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="22" fill="${bandColours[band] ?? '#999'}"><title>${kindLabels[c.kind]}, ${ageBands[band]?.label ?? ''}: ${count}</title></rect>`
        : html``;
      x += w;
      return rect;
    });
    return html`<text x="0" y="${y + 16}" class="label">${kindLabels[c.kind]}</text>${segments}<text x="${(x + 6).toFixed(1)}" y="${y + 16}" class="count">${total}</text>`;
  });
  const legendY = top + credentials.length * rowHeight + 20;
  const legend = ageBands.map(
    (band, i) =>
      html`<rect x="${labelWidth + i * 85}" y="${legendY}" width="12" height="12" fill="${bandColours[i] ?? '#999'}"></rect><text x="${labelWidth + i * 85 + 16}" y="${legendY + 11}" class="legend">${band.label}</text>`,
  );
  return html`<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="chart-title" width="${labelWidth + barWidth + 60}" height="${height}" viewBox="0 0 ${labelWidth + barWidth + 60} ${height}"><title id="chart-title">Live credentials by kind and age</title>${rows}${legend}</svg>`;
}

const STYLE = `
body { font-family: system-ui, sans-serif; margin: 2rem; color: #1b1b1b; max-width: 78rem; }
h1 { margin-bottom: 0.2rem; }
.meta { color: #555; margin-top: 0; }
.summary { display: flex; gap: 2rem; align-items: center; flex-wrap: wrap; margin: 1.5rem 0; }
.score { font-size: 3.5rem; font-weight: 700; line-height: 1; }
.score small { font-size: 1rem; font-weight: 400; color: #555; display: block; }
.counts span { display: inline-block; margin-right: 0.8rem; padding: 0.2rem 0.6rem; border-radius: 0.3rem; color: #fff; }
table { border-collapse: collapse; width: 100%; font-size: 0.92rem; }
th, td { text-align: left; vertical-align: top; padding: 0.45rem 0.6rem; border-bottom: 1px solid #ddd; }
th { background: #f3f3f3; }
td code { background: #f6f6f6; padding: 0.1rem 0.3rem; word-break: break-all; }
.sev { color: #fff; border-radius: 0.3rem; padding: 0.1rem 0.45rem; font-weight: 600; }
.refs { color: #444; font-size: 0.85rem; white-space: nowrap; }
svg .label, svg .count, svg .legend { font: 13px system-ui, sans-serif; fill: #1b1b1b; }
`;

export function postureHtml(report: PostureReport): string {
  const { summary } = report;
  const generated = new Date(report.generatedAt).toISOString();
  const counts = severities.map(
    (s) => html`<span style="background: ${severityColours[s]}">${s}: ${summary.counts[s]}</span>`,
  );
  const rows = report.findings.map((f) => {
    const subject = [
      f.key_id ? `key ${f.key_id}` : '',
      f.federation_id ? `federation ${f.federation_id}` : '',
      f.client_id ? `client ${f.client_id}` : '',
      f.user ? `user ${f.user}` : '',
    ]
      .filter(Boolean)
      .join(', ');
    return html`<tr><td><span class="sev" style="background: ${severityColours[f.severity]}">${f.severity}</span></td><td>${f.title}<br><small>${f.id}</small></td><td>${subject || 'server'}</td><td>${f.detail}</td><td><code>${f.fix}</code></td><td class="refs">${f.references.map((r) => html`<span title="${referenceNames[r] ?? r}">${r}</span><br>`)}</td></tr>`;
  });
  const findings =
    report.findings.length === 0
      ? html`<p>No findings.</p>`
      : html`<table><thead><tr><th>Severity</th><th>Finding</th><th>Concerns</th><th>Detail</th><th>Fix</th><th>References</th></tr></thead><tbody>${rows}</tbody></table>`;
  const page = html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Clavis posture report</title>
<style>${STYLE}</style>
</head>
<body>
<h1>Clavis posture report</h1>
<p class="meta">Generated ${generated}</p>
<section class="summary" aria-label="Summary">
<div class="score" id="score">${summary.score}<small>score out of 100</small></div>
<div class="counts">${counts}</div>
</section>
<h2>Live credentials by kind and age</h2>
${chart(summary.credentials)}
<h2>Findings (${report.findings.length})</h2>
${findings}
</body>
</html>
`;
  return page.toString();
}
