// Re-renders the SVG charts of a saved full run from its JSON, without measuring again:
//   node bench/charts.mjs bench/results/<cpu>-<date>.json
// (run.mjs writes the same charts at the end of every run; this is for chart changes after the fact.)
import fs from 'node:fs';
import path from 'node:path';
import { OPS } from './ops.mjs';
import { gemmChart, opChart } from './report.mjs';

const file = process.argv[2];
if (!file) {
  console.error('usage: node bench/charts.mjs bench/results/<cpu>-<date>.json');
  process.exit(2);
}
const result = JSON.parse(fs.readFileSync(file, 'utf8'));
const env = result.environment;
const subtitle = `qkernels ${env.packages.qkernels} · ${env.cpu.model} · Node ${env.node} · ${result.date}`;
const stem = file.replace(/\.json$/, '');
const written = [];
for (const saved of result.ops) {
  const op = OPS.find((o) => o.id === saved.id);
  if (!op) continue;
  const rows = result.rows.filter((r) => r.op === op.id);
  if (rows.length === 0) continue;
  let svg;
  if (op.metric === 'compute') svg = gemmChart(op, rows, subtitle);
  else if (rows[0].bytes) svg = opChart(op, rows, subtitle);
  else continue;
  const out = `${stem}-${op.id}.svg`;
  fs.writeFileSync(out, svg);
  written.push(path.relative(process.cwd(), out));
}
console.log(`wrote ${written.join(', ')}`);
