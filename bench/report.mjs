// Turns result rows into the text tables (Markdown, so they paste into the README) and the per-op SVG charts.

/**
 * One row of a table: a contender (or the copy baseline) at one op and shape.
 * @typedef {object} Row
 * @property {string} op
 * @property {string} shape        the shape label ('16M')
 * @property {number} elements
 * @property {number} bytes        bytes one call reads plus writes
 * @property {string} contender    contender id ('qkernels', 'js', 'onnxruntime', 'float16', 'copy')
 * @property {string} kind         'qkernels' | 'baseline' | 'peer' | 'copy'
 * @property {string} [variant]    the ISA tier for qkernels rows
 * @property {string} label
 * @property {string} [version]    the contender's version
 * @property {'ok'|'unavailable'|'unsupported'|'error'} status
 * @property {string} [reason]     why a row has no numbers
 * @property {import('./timing.mjs').Stats} [stats]
 * @property {number} [gelemPerSec]  elements per second / 1e9, from the median
 * @property {number} [gbPerSec]     bytes per second / 1e9, from the median
 * @property {number} [pctOfCopy]    gbPerSec / the copy baseline's gbPerSec at this shape, in percent
 * @property {number} [vsBestPeer]   gelemPerSec / the fastest peer's at this op and shape
 * @property {{ identical: boolean, mismatches: number, total: number, maxAbsDiff: number, firstIndex: number, note?: string, explainedBy?: string }} [check]
 */

/** Seconds -> '812 ns', '12.3 µs', '4.56 ms', '1.23 s'. */
export function formatTime(s) {
  if (!Number.isFinite(s)) return '—';
  if (s < 1e-6) return `${(s * 1e9).toPrecision(3)} ns`;
  if (s < 1e-3) return `${(s * 1e6).toPrecision(3)} µs`;
  if (s < 1) return `${(s * 1e3).toPrecision(3)} ms`;
  return `${s.toPrecision(3)} s`;
}

const fixed = (v, d) => (Number.isFinite(v) ? v.toFixed(d) : '—');
const sig = (v) => (!Number.isFinite(v) ? '—' : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

/** Fills the derived columns of every row (throughput, % of copy, ratio to the best peer). */
export function derive(rows) {
  const groups = new Map();
  for (const r of rows) {
    if (r.status === 'ok') {
      r.gelemPerSec = r.elements / r.stats.median / 1e9;
      r.gbPerSec = r.bytes / r.stats.median / 1e9;
    }
    const key = `${r.op}\0${r.shape}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(r);
  }
  for (const g of groups.values()) {
    const copy = g.find((r) => r.kind === 'copy' && r.status === 'ok');
    const peers = g.filter((r) => r.kind === 'peer' && r.status === 'ok');
    const best = peers.length ? Math.max(...peers.map((r) => r.gelemPerSec)) : NaN;
    for (const r of g) {
      if (r.status !== 'ok') continue;
      r.pctOfCopy = copy ? (100 * r.gbPerSec) / copy.gbPerSec : NaN;
      r.vsBestPeer = r.kind === 'copy' ? NaN : r.gelemPerSec / best;
    }
  }
  return rows;
}

const pad = (s, w, right) => (right ? s.padStart(w) : s.padEnd(w));

/**
 * A Markdown table with aligned columns.
 * @param {string[]} head
 * @param {string[][]} body
 * @param {boolean[]} rightAlign
 */
export function markdownTable(head, body, rightAlign) {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (cells) => `| ${cells.map((c, i) => pad(c, widths[i], rightAlign[i])).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (rightAlign[i] ? `${'-'.repeat(w + 1)}:` : `:${'-'.repeat(w + 1)}`)).join('|')}|`;
  return [line(head), rule, ...body.map(line)].join('\n');
}

/**
 * The table for one op: every shape, every row.
 * @param {import('./ops.mjs').OpSpec} op
 * @param {Row[]} rows  this op's rows, in display order
 */
export function opTable(op, rows) {
  const head = [
    'size',
    'contender',
    'time/call (median)',
    '± rme',
    'G elem/s',
    'GB/s',
    '% of copy',
    'vs best peer',
    'output',
  ];
  const right = [true, false, true, true, true, true, true, true, false];
  const body = rows.map((r) => {
    if (r.status !== 'ok')
      return [r.shape, r.label, r.status === 'unsupported' ? 'n/a' : r.status, '', '', '', '', '', r.reason ?? ''];
    const c = r.check;
    const output =
      r.kind === 'copy'
        ? ''
        : !c
          ? 'unchecked'
          : c.identical
            ? 'identical'
            : `differs in ${c.mismatches}${c.explainedBy ? ` (${c.explainedBy})` : ' ⚠'}`;
    return [
      r.shape,
      r.label,
      formatTime(r.stats.median),
      `${fixed(r.stats.rme, 1)}%`,
      sig(r.gelemPerSec),
      sig(r.gbPerSec),
      `${fixed(r.pctOfCopy, 0)}%`,
      Number.isFinite(r.vsBestPeer) ? `${r.vsBestPeer.toFixed(2)}×` : '—',
      output,
    ];
  });
  const r0 = rows.find((r) => r.kind !== 'copy');
  const bytesPer = r0 ? r0.bytes / r0.elements : NaN;
  const title = `#### ${op.id}: ${op.title}${Number.isFinite(bytesPer) ? ` (${bytesPer} B moved per element)` : ''}`;
  return `${title}\n\n${markdownTable(head, body, right)}`;
}

/** Warnings for rows whose output differs from qkernels', and for failed rows. */
export function warnings(rows) {
  const out = [];
  for (const r of rows) {
    if (r.status === 'error') out.push(`WARNING ${r.op} ${r.shape} ${r.label}: failed: ${r.reason}`);
    const c = r.check;
    if (c && !c.identical)
      out.push(
        `WARNING ${r.op} ${r.shape} ${r.label}: output differs from qkernels' in ${c.mismatches} of ${c.total} ` +
          `elements (first at index ${c.firstIndex}, max |difference| ${c.maxAbsDiff})${c.note ? `; ${c.note}` : ''}`,
      );
  }
  return out;
}

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const COLORS = {
  qkernels: ['#1f5fbf', '#4f8ee6', '#8cb8f2', '#b9d4f7'],
  baseline: '#8a8a8a',
  peer: ['#e07b24', '#3a9e5c', '#a05cc2'],
  copy: '#333333',
};

/**
 * A horizontal bar chart of GB/s for one op: one panel per shape (each scaled to its own fastest row, since a 1K
 * copy runs from L1 and a 16M one from DRAM), a dashed line at 80% of the copy baseline.
 * @param {import('./ops.mjs').OpSpec} op
 * @param {Row[]} rows this op's rows in display order
 * @param {string} subtitle
 */
export function opChart(op, rows, subtitle) {
  const W = 1080;
  const labelW = 230;
  const barX = labelW + 10;
  const barW = 480;
  const rowH = 22;
  const font = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"';
  const shapes = [...new Set(rows.map((r) => r.shape))];
  const peerColor = new Map();
  const parts = [];
  let y = 58;
  for (const shape of shapes) {
    const group = rows.filter((r) => r.shape === shape);
    const max = Math.max(...group.filter((r) => r.status === 'ok').map((r) => r.gbPerSec), 1e-9);
    const copy = group.find((r) => r.kind === 'copy' && r.status === 'ok');
    const elements = group[0].elements;
    parts.push(
      `<text x="10" y="${y + 14}" font-size="14" font-weight="600">${esc(shape)} elements (${elements.toLocaleString('en-US')})</text>`,
    );
    y += 24;
    const top = y;
    let tier = 0;
    for (const r of group) {
      let color = COLORS.baseline;
      if (r.kind === 'qkernels') color = COLORS.qkernels[Math.min(tier++, COLORS.qkernels.length - 1)];
      else if (r.kind === 'peer') {
        if (!peerColor.has(r.contender)) peerColor.set(r.contender, COLORS.peer[peerColor.size % COLORS.peer.length]);
        color = peerColor.get(r.contender);
      } else if (r.kind === 'copy') color = COLORS.copy;
      parts.push(`<text x="${labelW}" y="${y + 15}" font-size="12" text-anchor="end">${esc(r.label)}</text>`);
      if (r.status === 'ok') {
        const w = Math.max(1, (barW * r.gbPerSec) / max);
        const c = r.check;
        const warn = !c || c.identical ? '' : c.explainedBy ? ` · differs: ${c.explainedBy}` : ' ⚠ output differs';
        parts.push(`<rect x="${barX}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowH - 6}" fill="${color}"/>`);
        parts.push(
          `<text x="${barX + w + 6}" y="${y + 15}" font-size="11" fill="#222">${sig(r.gbPerSec)} GB/s · ${sig(r.gelemPerSec)} G elem/s · ${formatTime(r.stats.median)}` +
            `${r.kind !== 'copy' && copy ? ` · ${fixed(r.pctOfCopy, 0)}% of copy` : ''}${esc(warn)}</text>`,
        );
      } else {
        parts.push(
          `<text x="${barX}" y="${y + 15}" font-size="11" fill="#999">${esc(`${r.status}${r.reason ? `: ${r.reason}` : ''}`)}</text>`,
        );
      }
      y += rowH;
    }
    if (copy) {
      const x = barX + (barW * 0.8 * copy.gbPerSec) / max;
      parts.push(
        `<line x1="${x.toFixed(1)}" y1="${top}" x2="${x.toFixed(1)}" y2="${y}" stroke="#c0392b" stroke-dasharray="4 3"/>`,
        `<text x="${x.toFixed(1)}" y="${y + 12}" font-size="10" fill="#c0392b" text-anchor="middle">80% of copy</text>`,
      );
    }
    y += 30;
  }
  const H = y + 10;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ${font}>`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="10" y="22" font-size="16" font-weight="700">${esc(`${op.id}: ${op.title}`)}</text>`,
    `<text x="10" y="42" font-size="11" fill="#555">${esc(subtitle)} · bars: GB/s moved (bytes read + written), median · each panel scaled to its fastest row</text>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}
