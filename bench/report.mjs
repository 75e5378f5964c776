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
 * @property {'ok'|'unavailable'|'unsupported'|'skipped'|'error'} status
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
  const copies = new Map();
  for (const r of rows) {
    if (r.status === 'ok') {
      r.gelemPerSec = r.elements / r.stats.median / 1e9;
      r.gbPerSec = r.bytes / r.stats.median / 1e9;
      if (r.ops) {
        r.gops = r.ops / r.stats.median / 1e9;
        if (r.peakOpsPerSec) r.pctOfPeak = (100 * r.ops) / r.stats.median / r.peakOpsPerSec;
        if (r.weightBytes) r.weightGBPerSec = r.weightBytes / r.stats.median / 1e9;
      }
    }
    // The copy row is measured once per shape; every thread count's rows compare with it.
    if (r.kind === 'copy') copies.set(`${r.op}\0${r.shape}`, r);
    const key = `${r.op}\0${r.shape}\0${r.kind === 'copy' ? '' : (r.threads ?? '')}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(r);
  }
  for (const g of groups.values()) {
    const copy = copies.get(`${g[0].op}\0${g[0].shape}`);
    const copyOk = copy?.status === 'ok' ? copy : null;
    const peers = g.filter((r) => r.kind === 'peer' && r.status === 'ok');
    const best = peers.length ? Math.max(...peers.map((r) => r.gelemPerSec)) : NaN;
    for (const r of g) {
      if (r.status !== 'ok') continue;
      r.pctOfCopy = copyOk ? (100 * (r.weightGBPerSec ?? r.gbPerSec)) / copyOk.gbPerSec : NaN;
      r.vsBestPeer = r.kind === 'copy' ? NaN : r.gelemPerSec / best;
    }
  }
  return rows;
}

/** The output column: identical, within tolerance, differs, or why it was not compared. */
function outputCell(r) {
  const c = r.check;
  if (r.kind === 'copy') return '';
  if (r.compared === false) return r.kind === 'peer' ? 'not compared (timed in its own process)' : 'not compared';
  if (!c) return 'unchecked';
  if (c.identical) return 'identical';
  if (c.approx) return `rel. diff ${c.relDiff.toExponential(1)}${c.within ? '' : c.explainedBy ? ` (${c.explainedBy})` : ' ⚠'}`;
  return `differs in ${c.mismatches}${c.explainedBy ? ` (${c.explainedBy})` : ' ⚠'}`;
}

/**
 * The table for a compute op (GEMM): every shape and thread count, GOPS, % of the peak, weight GB/s for m = 1.
 * @param {import('./ops.mjs').OpSpec} op
 * @param {Row[]} rows
 */
function computeTable(op, rows) {
  const head = ['shape MxNxK', 'thr', 'contender', 'time/call', '± rme', 'GOPS', '% of peak', 'weights GB/s (% of copy)', 'vs best peer', 'output'];
  const right = [true, true, false, true, true, true, true, true, true, false];
  const body = rows.map((r) => {
    if (r.kind === 'copy')
      return r.status === 'ok'
        ? [r.shape, '1', r.label, formatTime(r.stats.median), `${fixed(r.stats.rme, 1)}%`, '', '', `${sig(r.gbPerSec)} (r+w)`, '', `${(r.bytes / 8 / 2 ** 20) * 4} MiB`]
        : [r.shape, '1', r.label, r.status, '', '', '', '', '', r.reason ?? ''];
    if (r.status !== 'ok')
      return [r.shape, String(r.threads ?? ''), r.label, r.status === 'unsupported' ? 'n/a' : r.status, '', '', '', '', '', r.reason ?? ''];
    return [
      r.shape,
      String(r.threads),
      r.label,
      formatTime(r.stats.median),
      `${fixed(r.stats.rme, 1)}%`,
      `${sig(r.gops)}${r.unit === 'GFLOPS' ? ' GFLOPS' : ''}`,
      r.pctOfPeak ? `${fixed(r.pctOfPeak, 0)}%` : '—',
      r.weightGBPerSec ? `${sig(r.weightGBPerSec)} (${fixed(r.pctOfCopy, 0)}%)` : '',
      Number.isFinite(r.vsBestPeer) ? `${r.vsBestPeer.toFixed(2)}×` : '—',
      outputCell(r),
    ];
  });
  return `#### ${op.id}: ${op.title}\n\n${op.semantics ? `${op.semantics}\n\n` : ''}${markdownTable(head, body, right)}`;
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
  if (op.metric === 'compute') return computeTable(op, rows);
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
  const manyThreads = new Set(rows.map((r) => r.threads).filter(Boolean)).size > 1;
  const body = rows.map((r) => {
    if (r.status !== 'ok')
      return [r.shape, r.label, r.status === 'unsupported' ? 'n/a' : r.status, '', '', '', '', '', r.reason ?? ''];
    const output = outputCell(r);
    return [
      r.shape,
      `${r.note ? `${r.label}: ${r.note}` : r.label}${manyThreads && r.threads ? `, ${r.threads} threads` : ''}`,
      formatTime(r.stats.median),
      `${fixed(r.stats.rme, 1)}%`,
      r.bytes ? sig(r.gelemPerSec) : '—',
      r.bytes ? sig(r.gbPerSec) : '—',
      r.bytes ? `${fixed(r.pctOfCopy, 0)}%` : '—',
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
    if (c?.approx && !c.within)
      out.push(
        `WARNING ${r.op} ${r.shape}${r.threads ? ` t${r.threads}` : ''} ${r.label}: output differs from qkernels' by ` +
          `${c.relDiff.toExponential(2)} of max |output| (tolerance ${c.tolerance})${c.note ? `; ${c.note}` : ''}`,
      );
    if (c && !c.identical && !c.approx)
      out.push(
        `WARNING ${r.op} ${r.shape}${r.threads ? ` t${r.threads}` : ''} ${r.label}: output differs from qkernels' in ${c.mismatches} of ${c.total} ` +
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

/**
 * A horizontal bar chart of GOPS for one GEMM op: one panel per shape and thread count (every tier vs the peers
 * and the float baseline), each scaled to its fastest row, with a dashed line at 100% of the measured peak of
 * the default tier's instruction sequence times the threads.
 * @param {import('./ops.mjs').OpSpec} op
 * @param {Row[]} rows this op's rows in display order
 * @param {string} subtitle
 */
export function gemmChart(op, rows, subtitle) {
  const W = 1080;
  const labelW = 230;
  const barX = labelW + 10;
  const barW = 480;
  const rowH = 22;
  const font = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"';
  rows = rows.filter((r) => r.threads !== undefined); // the m = 1 copy baseline is reported in the tables
  const panels = [...new Set(rows.map((r) => `${r.shape}|${r.threads}`))];
  const peerColor = new Map();
  const parts = [];
  let y = 58;
  for (const panel of panels) {
    const [shape, threads] = panel.split('|');
    const group = rows.filter((r) => r.shape === shape && String(r.threads) === threads);
    const ok = group.filter((r) => r.status === 'ok' && Number.isFinite(r.gops));
    const peakRow = ok.find((r) => r.kind === 'qkernels' && r.peakOpsPerSec);
    const peak = peakRow ? (peakRow.peakOpsPerSec * Number(threads)) / 1e9 : 0;
    const max = Math.max(...ok.map((r) => r.gops), peak, 1e-9);
    parts.push(`<text x="10" y="${y + 14}" font-size="14" font-weight="600">${esc(shape)} (M x N x K), ${esc(threads)} thread${threads === '1' ? '' : 's'}</text>`);
    y += 24;
    const top = y;
    let tier = 0;
    for (const r of group) {
      let color = COLORS.baseline;
      if (r.kind === 'qkernels') color = COLORS.qkernels[Math.min(tier++, COLORS.qkernels.length - 1)];
      else if (r.kind === 'peer') {
        if (!peerColor.has(r.contender)) peerColor.set(r.contender, COLORS.peer[peerColor.size % COLORS.peer.length]);
        color = peerColor.get(r.contender);
      }
      parts.push(`<text x="${labelW}" y="${y + 15}" font-size="12" text-anchor="end">${esc(r.label)}</text>`);
      if (r.status === 'ok' && Number.isFinite(r.gops)) {
        const w = Math.max(1, (barW * r.gops) / max);
        const c = r.check;
        const warn = !c || c.identical ? '' : c.explainedBy ? ` · differs: ${c.explainedBy}` : ' ⚠ output differs';
        parts.push(`<rect x="${barX}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowH - 6}" fill="${color}"/>`);
        parts.push(
          `<text x="${barX + w + 6}" y="${y + 15}" font-size="11" fill="#222">${sig(r.gops)} ${esc(r.unit ?? 'GOPS')} · ${formatTime(r.stats.median)}` +
            `${Number.isFinite(r.pctOfPeak) ? ` · ${fixed(r.pctOfPeak, 0)}% of peak` : ''}${esc(warn)}</text>`,
        );
      } else {
        parts.push(`<text x="${barX}" y="${y + 15}" font-size="11" fill="#999">${esc(`${r.status}${r.reason ? `: ${r.reason}` : ''}`)}</text>`);
      }
      y += rowH;
    }
    if (peak > 0) {
      const x = barX + (barW * peak) / max;
      parts.push(
        `<line x1="${x.toFixed(1)}" y1="${top}" x2="${x.toFixed(1)}" y2="${y}" stroke="#c0392b" stroke-dasharray="4 3"/>`,
        `<text x="${x.toFixed(1)}" y="${y + 12}" font-size="10" fill="#c0392b" text-anchor="middle">peak (${esc(peakRow.peakSequence)} x ${esc(threads)})</text>`,
      );
    }
    y += 30;
  }
  const H = y + 10;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ${font}>`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="10" y="22" font-size="16" font-weight="700">${esc(`${op.id}: ${op.title}`)}</text>`,
    `<text x="10" y="42" font-size="11" fill="#555">${esc(subtitle)} · bars: GOPS (2 m n k / median time; GFLOPS for sgemm) · each panel scaled to its fastest row or the peak</text>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}

/**
 * The cross-op summaries: INT8 GEMM vs onnxruntime-node, sgemm and the JS loop, linearDynamic vs int8Gemm (the
 * issue's within-10% target), and the calibration / fake-quant rows vs PyTorch and the JS loop. Empty when none
 * of those ops ran.
 * @param {Row[]} rows every row of the run
 * @param {string} tier the default tier
 */
export function summaries(rows, tier) {
  const ok = rows.filter((r) => r.status === 'ok');
  const find = (op, shape, threads, pred) => ok.find((r) => r.op === op && r.shape === shape && r.threads === threads && pred(r));
  const qk = (r) => r.contender === 'qkernels' && r.variant === tier;
  const parts = [];

  const gemm = ok.filter((r) => r.op === 'gemm-s32' && qk(r));
  if (gemm.length) {
    const body = gemm.map((r) => {
      const ort = find('gemm-s32', r.shape, r.threads, (x) => x.contender === 'onnxruntime');
      const sg = find('gemm-s32', r.shape, r.threads, (x) => x.contender === 'sgemm');
      const un = find('gemm-s32-unpacked', r.shape, r.threads, qk);
      const f = find('gemm-f32', r.shape, r.threads, qk);
      const q8 = find('gemm-s8', r.shape, r.threads, qk);
      const js = find('gemm-s32', r.shape, r.threads, (x) => x.contender === 'js');
      return [
        r.shape,
        String(r.threads),
        sig(r.gops),
        r.pctOfPeak ? `${fixed(r.pctOfPeak, 0)}%` : '—',
        un ? sig(un.gops) : '—',
        f ? sig(f.gops) : '—',
        q8 ? sig(q8.gops) : '—',
        r.weightGBPerSec ? `${sig(r.weightGBPerSec)} (${fixed(r.pctOfCopy, 0)}%)` : '',
        ort ? sig(ort.gops) : '—',
        ort ? `${(r.gops / ort.gops).toFixed(2)}×` : '—',
        ort?.check ? (ort.check.identical ? 'exact' : ort.check.explainedBy === 'ORT u8 x s8 int16 saturation' ? 'inexact (int16 sat.)' : 'DIFFERS') : '—',
        sg ? sig(sg.gops) : '—',
        sg ? `${(r.gops / sg.gops).toFixed(2)}×` : '—',
        js ? sig(js.gops) : '—',
        js ? `${(r.gops / js.gops).toFixed(0)}×` : '—',
      ];
    });
    parts.push(
      `#### INT8 GEMM summary (qkernels ${tier}, u8 x s8 with zero points; GOPS = 2 m n k / time)\n\n${markdownTable(
        ['shape MxNxK', 'thr', 'int32 packed', '% of peak', 'int32 unpacked', 'f32 out', 's8 out', 'm=1 weights GB/s (% of copy)', 'ORT MatMulInteger', 'qk / ORT', 'ORT int32', 'sgemm GFLOPS', 'int8 / float', 'JS loop', 'qk / JS'],
        body,
        [true, true, true, true, true, true, true, true, true, true, false, true, true, true, true],
      )}\n`,
    );
  }

  const sgemmRows = ok.filter((r) => r.op === 'gemm-s32' && r.contender === 'sgemm');
  if (sgemmRows.length) {
    const body = sgemmRows.map((r) => {
      const dnnl = find('gemm-s32', r.shape, r.threads, (x) => x.contender === 'onednn-f32');
      const pct = (x) => (x?.pctOfPeak ? `${fixed(x.pctOfPeak, 0)}%` : '—');
      return [
        r.shape,
        String(r.threads),
        sig(r.gops),
        pct(r),
        dnnl ? sig(dnnl.gops) : '—',
        pct(dnnl),
        dnnl ? `${(r.gops / dnnl.gops).toFixed(2)}×` : '—',
      ];
    });
    parts.push(
      `#### sgemm vs oneDNN float32 (GFLOPS = 2 m n k / time; % of the FMA peak times the threads)\n\n${markdownTable(
        ['shape MxNxK', 'thr', 'qkernels sgemm', '% of peak', 'oneDNN f32', '% of peak', 'sgemm / oneDNN'],
        body,
        [true, true, true, true, true, true, true],
      )}\n`,
    );
  }

  const lin = ok.filter((r) => r.op === 'linearDynamic' && qk(r));
  if (lin.length) {
    const body = lin.map((r) => {
      const ig = find('linearDynamic', r.shape, r.threads, (x) => x.contender === 'int8Gemm');
      const ort = find('linearDynamic', r.shape, r.threads, (x) => x.contender === 'onnxruntime');
      const slow = ig ? r.stats.median / ig.stats.median - 1 : NaN;
      return [
        r.shape,
        String(r.threads),
        formatTime(r.stats.median),
        ig ? formatTime(ig.stats.median) : '—',
        Number.isFinite(slow) ? `${slow >= 0 ? '+' : ''}${(100 * slow).toFixed(1)}%` : '—',
        r.shape.startsWith('128x') && Number.isFinite(slow) ? (slow <= 0.1 ? 'yes' : 'NO') : '',
        ort ? formatTime(ort.stats.median) : '—',
        ort ? `${(ort.stats.median / r.stats.median).toFixed(2)}×` : '—',
      ];
    });
    parts.push(
      `#### linearDynamic vs int8Gemm on the same packed weights (target: within 10% at 128x4096x4096)\n\n${markdownTable(
        ['shape MxNxK', 'thr', 'linearDynamic', 'int8Gemm f32 out', 'overhead', '<= 10%', 'ORT DynamicQuantizeLinear+MatMulInteger', 'qk speedup'],
        body,
        [true, true, true, true, true, false, true, true],
      )}\n`,
    );
  }

  const vsTorch = ok.filter((r) => qk(r) && (r.op.startsWith('observe-') || r.op.startsWith('compute-') || r.op === 'histogram' || r.op.startsWith('fakeQuant')));
  if (vsTorch.length) {
    const body = vsTorch.map((r) => {
      const t = find(r.op, r.shape, r.threads, (x) => x.contender === 'pytorch');
      const js = find(r.op, r.shape, r.threads, (x) => x.contender === 'js');
      return [
        r.op,
        r.shape,
        formatTime(r.stats.median),
        r.bytes ? `${sig(r.gbPerSec)} (${fixed(r.pctOfCopy, 0)}%)` : '—',
        t ? `${formatTime(t.stats.median)} (${t.note})` : '—',
        t ? `${(t.stats.median / r.stats.median).toFixed(1)}×` : '—',
        js ? formatTime(js.stats.median) : '—',
        js ? `${(js.stats.median / r.stats.median).toFixed(1)}×` : '—',
      ];
    });
    parts.push(
      `#### calibration and fake quantization vs PyTorch (1 thread) and a JS loop\n\n${markdownTable(
        ['op', 'size', 'qkernels', 'GB/s (% of copy)', 'PyTorch', 'speedup', 'JS loop', 'speedup'],
        body,
        [false, true, true, true, false, true, true, true],
      )}\n`,
    );
  }
  return parts.length ? `${parts.join('\n')}\n` : '';
}
