// The timeline (Gantt) of a run from its profile: one row per task in the order they were
// scheduled, a pale bar while it waited for a worker and a solid one while it ran.

import { s, seconds } from "./dom.js";

const ROW = 18;
const LABEL = 220;
const WIDTH = 900;
export const MAX_ROWS = 500;

// `activity-examples.fanout.square-12` -> `square-12`: the full id is in the row's tooltip.
function shortId(taskId) {
  const tail = taskId.slice(taskId.lastIndexOf(".") + 1);
  return tail.length > 34 ? `…${tail.slice(-33)}` : tail;
}

export function drawTimeline(box, profile, { onSelect } = {}) {
  const start = profile.start ? Date.parse(profile.start) : null;
  const end = profile.end ? Date.parse(profile.end) : null;
  // In the order they were scheduled; ties (one decision schedules many) by start, then end.
  const at = (value) => (value ? Date.parse(value) : 0);
  const entries = [...profile.entries].sort((a, b) => at(a.scheduled) - at(b.scheduled)
    || at(a.started) - at(b.started) || at(a.closed) - at(b.closed));
  const shown = entries.slice(0, MAX_ROWS);
  const span = Math.max((end ?? 0) - (start ?? 0), 1);
  const height = 24 + shown.length * ROW;
  const svg = s("svg", { id: "timeline", class: "timeline", width: LABEL + WIDTH + 20, height,
    role: "img", "aria-label": `timeline of ${entries.length} tasks` });
  const x = (t) => LABEL + ((Date.parse(t) - start) / span) * WIDTH;
  for (let i = 0; i <= 4; i += 1) {
    const px = LABEL + (WIDTH * i) / 4;
    svg.append(s("line", { class: "axis", x1: px, x2: px, y1: 14, y2: height }),
      s("text", { x: i === 4 ? px - 2 : px + 2, y: 11, class: "muted", "text-anchor": i === 4 ? "end" : "start" },
        `+${seconds((span / 1000) * (i / 4))}`));
  }
  shown.forEach((entry, i) => {
    const y = 20 + i * ROW;
    const row = s("g", { class: `timeline-row phase-${entry.phase}`, "data-id": entry.task_id },
      s("title", {}, `${entry.task_id}: waited ${seconds(entry.waiting)}, ran ${seconds(entry.running)} (${entry.state})`),
      s("text", { x: 4, y: y + 11, class: "timeline-label" }, shortId(entry.task_id)));
    if (start !== null) {
      for (const sp of entry.spans) {
        const x1 = x(sp.start);
        const w = Math.max(x(sp.end) - x1, 2);
        row.append(s("rect", { class: `bar phase-${entry.phase} span-${sp.phase}`, x: x1.toFixed(1),
          y: y + 2, width: w.toFixed(1), height: ROW - 5 }));
      }
    }
    if (onSelect) row.addEventListener("click", () => onSelect(entry.task_id));
    svg.append(row);
  });
  box.replaceChildren(svg);
  return { rows: shown.length, total: entries.length };
}
