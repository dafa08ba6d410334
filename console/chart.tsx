// The last hour of the floor: one line per status (an SVG, no chart library), each line labelled
// with its status and current count so colour is never the only way to tell them apart.
import { STATUSES } from '../workflows/model.ts';
import { clock } from './format.ts';
import type { Floor } from './types.ts';

const W = 640;
const H = 160;
const PAD = { left: 36, right: 110, top: 10, bottom: 22 };
/** Least vertical distance between two end labels (px in the SVG's own units). */
const LABEL_GAP = 13;

export function Chart({ history }: { history: Floor['history'] }) {
  const pts = history.points;
  if (pts.length < 2) return null;
  const max = Math.max(1, ...pts.flatMap((p) => STATUSES.map((s) => p.byStatus[s])));
  const x = (i: number) => PAD.left + (i / (pts.length - 1)) * (W - PAD.left - PAD.right);
  const y = (v: number) => H - PAD.bottom - (v / max) * (H - PAD.top - PAD.bottom);
  const last = pts[pts.length - 1]!;
  // End labels sit by their line's end, pushed apart where lines end close together.
  const labels = STATUSES.map((s) => ({ s, y: y(last.byStatus[s]) + 4 })).sort((a, b) => a.y - b.y);
  for (let i = 1; i < labels.length; i++) labels[i]!.y = Math.max(labels[i]!.y, labels[i - 1]!.y + LABEL_GAP);
  const spill = labels[labels.length - 1]!.y - (H - 2);
  if (spill > 0) for (const l of labels) l.y -= spill;
  const labelY = Object.fromEntries(labels.map((l) => [l.s, l.y]));
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby="chart-title">
        <title id="chart-title">Agents per status over the last hour, one point a minute</title>
        <line x1={PAD.left} x2={W - PAD.right} y1={y(0)} y2={y(0)} class="axis" />
        <text x={PAD.left - 4} y={y(max) + 4} class="tick" text-anchor="end">
          {max}
        </text>
        <text x={PAD.left - 4} y={y(0) + 4} class="tick" text-anchor="end">
          0
        </text>
        <text x={PAD.left} y={H - 4} class="tick">
          {clock(pts[0]!.at)}
        </text>
        <text x={W - PAD.right} y={H - 4} class="tick" text-anchor="end">
          now
        </text>
        {STATUSES.map((s) => (
          <g key={s} class={`series status-${s}`}>
            <polyline fill="none" points={pts.map((p, i) => `${x(i)},${y(p.byStatus[s])}`).join(' ')} />
            <text x={W - PAD.right + 6} y={labelY[s]} class="series-label">
              {s} {last.byStatus[s]}
            </text>
          </g>
        ))}
      </svg>
    </figure>
  );
}
