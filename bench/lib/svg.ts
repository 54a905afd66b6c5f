/** Small SVG chart writers (no chart library): a tail-emphasised latency CDF and horizontal bars. */

const PALETTE = [
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#d62728',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
  '#bcbd22',
  '#17becf',
  '#000000',
  '#aec7e8',
];

export const escapeXml = (text: string): string =>
  text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] ?? c);

const n = (value: number) => (Math.round(value * 10) / 10).toString();

export type CdfSeries = { readonly name: string; readonly points: ReadonlyArray<readonly [number, number]> };

/** y position in "nines": p50 → 0.3, p90 → 1, p99 → 2, p99.9 → 3 (capped at 3.5). */
export const nines = (share: number): number => Math.min(3.5, -Math.log10(Math.max(1 - share, 10 ** -3.5)));

/**
 * Latency CDF with a log latency axis and a "nines" percentile axis, so p99 and p99.9 get as much
 * room as the median.
 */
export const cdfChart = (title: string, subtitle: string, series: readonly CdfSeries[]): string => {
  const width = 820;
  const height = 480;
  const left = 70;
  const right = 230;
  const top = 56;
  const bottom = 50;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const all = series.flatMap((s) => s.points.map((p) => p[0])).filter((v) => v > 0);
  const lo = Math.max(0.1, Math.min(...all, 1));
  const hi = Math.max(...all, lo * 10);
  const lx0 = Math.floor(Math.log10(lo));
  const lx1 = Math.ceil(Math.log10(hi));
  const x = (ms: number) => left + ((Math.log10(Math.max(ms, 10 ** lx0)) - lx0) / (lx1 - lx0)) * plotW;
  const y = (share: number) => top + plotH - (nines(share) / 3.5) * plotH;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${left}" y="22" font-size="16" font-weight="bold">${escapeXml(title)}</text>`,
    `<text x="${left}" y="40" fill="#555">${escapeXml(subtitle)}</text>`,
  ];
  for (let e = lx0; e <= lx1; e++) {
    for (const m of [1, 2, 5]) {
      const ms = m * 10 ** e;
      if (ms < 10 ** lx0 || ms > 10 ** lx1) continue;
      const px = n(x(ms));
      out.push(`<line x1="${px}" y1="${top}" x2="${px}" y2="${top + plotH}" stroke="#eee"/>`);
      out.push(`<text x="${px}" y="${top + plotH + 16}" text-anchor="middle" fill="#555">${ms >= 1 ? ms : ms.toFixed(1)}</text>`);
    }
  }
  for (const [share, label] of [
    [0, 'p0'],
    [0.5, 'p50'],
    [0.9, 'p90'],
    [0.99, 'p99'],
    [0.999, 'p99.9'],
  ] as const) {
    const py = n(y(share));
    out.push(`<line x1="${left}" y1="${py}" x2="${left + plotW}" y2="${py}" stroke="#eee"/>`);
    out.push(`<text x="${left - 6}" y="${py}" text-anchor="end" dominant-baseline="middle" fill="#555">${label}</text>`);
  }
  out.push(`<rect x="${left}" y="${top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`);
  out.push(`<text x="${left + plotW / 2}" y="${height - 12}" text-anchor="middle">latency per call, ms (log scale)</text>`);
  series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length] ?? '#000';
    const d = s.points.map((p, j) => `${j === 0 ? 'M' : 'L'}${n(x(p[0]))},${n(y(p[1]))}`).join('');
    if (d) out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="1.5"/>`);
    const ly = top + 8 + i * 18;
    out.push(
      `<line x1="${left + plotW + 12}" y1="${ly}" x2="${left + plotW + 32}" y2="${ly}" stroke="${color}" stroke-width="3"/>`,
    );
    out.push(`<text x="${left + plotW + 38}" y="${ly}" dominant-baseline="middle">${escapeXml(s.name)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
};

export type Bar = { readonly label: string; readonly value: number; readonly note?: string };

/** Horizontal bars with their values written beside them. */
export const barChart = (title: string, subtitle: string, unit: string, bars: readonly Bar[]): string => {
  const width = 820;
  const left = 260;
  const right = 150;
  const top = 56;
  const row = 26;
  const height = top + bars.length * row + 40;
  const plotW = width - left - right;
  const max = Math.max(...bars.map((b) => (Number.isFinite(b.value) ? b.value : 0)), 1e-9);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="16" y="22" font-size="16" font-weight="bold">${escapeXml(title)}</text>`,
    `<text x="16" y="40" fill="#555">${escapeXml(subtitle)}</text>`,
  ];
  bars.forEach((bar, i) => {
    const y = top + i * row;
    const value = Number.isFinite(bar.value) ? bar.value : 0;
    const w = (value / max) * plotW;
    const color = PALETTE[i % PALETTE.length] ?? '#000';
    out.push(
      `<text x="${left - 8}" y="${y + row / 2}" text-anchor="end" dominant-baseline="middle">${escapeXml(bar.label)}</text>`,
    );
    out.push(`<rect x="${left}" y="${y + 4}" width="${n(Math.max(w, 1))}" height="${row - 8}" fill="${color}"/>`);
    const text = `${Number.isFinite(bar.value) ? bar.value.toFixed(2) : '–'} ${unit}${bar.note ? ` ${bar.note}` : ''}`;
    out.push(`<text x="${n(left + Math.max(w, 1) + 6)}" y="${y + row / 2}" dominant-baseline="middle">${escapeXml(text)}</text>`);
  });
  out.push(`<line x1="${left}" y1="${top}" x2="${left}" y2="${top + bars.length * row}" stroke="#999"/>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
};

export type TimelineSeries = {
  readonly name: string;
  /** [ms since start, value] */
  readonly points: ReadonlyArray<readonly [number, number]>;
  readonly dashed?: boolean;
};
export type TimelinePhase = { readonly from: number; readonly to: number; readonly label: string };

/** Values over time (a step line per series), with phases shaded and labelled along the top. */
export const timelineChart = (
  title: string,
  subtitle: string,
  yLabel: string,
  series: readonly TimelineSeries[],
  phases: readonly TimelinePhase[],
): string => {
  const width = 820;
  const height = 440;
  const left = 70;
  const right = 250;
  const top = 70;
  const bottom = 50;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const xMax = Math.max(...phases.map((p) => p.to), ...series.flatMap((s) => s.points.map((p) => p[0])), 1);
  const yRaw = Math.max(...series.flatMap((s) => s.points.map((p) => p[1])).filter(Number.isFinite), 1);
  const magnitude = 10 ** Math.floor(Math.log10(yRaw));
  const yStep = [0.1, 0.2, 0.5, 1, 2, 5, 10].map((m) => m * magnitude).find((step) => yRaw / step <= 6) ?? magnitude * 10;
  const yMax = Math.ceil(yRaw / yStep) * yStep;
  const x = (ms: number) => left + (ms / xMax) * plotW;
  const y = (value: number) => top + plotH - (Math.max(0, value) / yMax) * plotH;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${left}" y="22" font-size="16" font-weight="bold">${escapeXml(title)}</text>`,
    `<text x="${left}" y="40" fill="#555">${escapeXml(subtitle)}</text>`,
  ];
  phases.forEach((phase, i) => {
    const x0 = x(phase.from);
    const x1 = x(phase.to);
    out.push(
      `<rect x="${n(x0)}" y="${top}" width="${n(x1 - x0)}" height="${plotH}" fill="${i % 2 === 0 ? '#f4f4f4' : '#e6e6e6'}"/>`,
    );
    out.push(`<text x="${n((x0 + x1) / 2)}" y="${top - 8}" text-anchor="middle" fill="#333">${escapeXml(phase.label)}</text>`);
  });
  for (let v = 0; v <= yMax + 1e-9; v += yStep) {
    const py = n(y(v));
    out.push(`<line x1="${left}" y1="${py}" x2="${left + plotW}" y2="${py}" stroke="#ddd"/>`);
    out.push(
      `<text x="${left - 6}" y="${py}" text-anchor="end" dominant-baseline="middle" fill="#555">${Number(v.toFixed(6))}</text>`,
    );
  }
  const xStep = xMax > 6_000 ? 1_000 : 500;
  for (let ms = 0; ms <= xMax + 1e-9; ms += xStep) {
    const px = n(x(ms));
    out.push(`<text x="${px}" y="${top + plotH + 16}" text-anchor="middle" fill="#555">${(ms / 1000).toString()}</text>`);
  }
  out.push(`<rect x="${left}" y="${top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`);
  out.push(`<text x="${left + plotW / 2}" y="${height - 12}" text-anchor="middle">time, s</text>`);
  out.push(
    `<text x="16" y="${top + plotH / 2}" text-anchor="middle" transform="rotate(-90 16 ${top + plotH / 2})">${escapeXml(yLabel)}</text>`,
  );
  series.forEach((s, i) => {
    const color = s.dashed ? '#555' : (PALETTE[i % PALETTE.length] ?? '#000');
    const d = s.points.map((p, j) => `${j === 0 ? 'M' : 'L'}${n(x(p[0]))},${n(y(p[1]))}`).join('');
    const dash = s.dashed ? ' stroke-dasharray="5 4"' : '';
    if (d) out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="${s.dashed ? 1.5 : 2}"${dash}/>`);
    const ly = top + 8 + i * 18;
    out.push(
      `<line x1="${left + plotW + 12}" y1="${ly}" x2="${left + plotW + 32}" y2="${ly}" stroke="${color}" stroke-width="3"${dash}/>`,
    );
    out.push(`<text x="${left + plotW + 38}" y="${ly}" dominant-baseline="middle">${escapeXml(s.name)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
};
