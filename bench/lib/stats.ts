/** Pure statistics helpers for the benchmark tables. */

/** Nearest-rank percentile (p in 0..100) of unsorted samples; NaN when empty. */
export const percentile = (samples: readonly number[], p: number): number => {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number;
};

/** Median (mean of the two middle values for an even count); NaN when empty. */
export const median = (values: readonly number[]): number => {
  const finite = values.filter((v) => !Number.isNaN(v));
  if (finite.length === 0) return Number.NaN;
  const sorted = [...finite].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

/** `value / base`, NaN when the base is 0 or missing. */
export const ratio = (value: number, base: number): number => (base === 0 || Number.isNaN(base) ? Number.NaN : value / base);

/** Points of an empirical CDF, at most `maxPoints` of them: [latency, cumulative share]. */
export const cdfPoints = (samples: readonly number[], maxPoints = 400): Array<[number, number]> => {
  const sorted = [...samples].sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) return [];
  const step = Math.max(1, Math.floor(n / maxPoints));
  const points: Array<[number, number]> = [];
  for (let i = 0; i < n; i += step) points.push([sorted[i] as number, (i + 1) / n]);
  // The tail matters most: keep the last 1 % of samples at full resolution.
  for (let i = Math.max(0, n - Math.ceil(n / 100)); i < n; i++) points.push([sorted[i] as number, (i + 1) / n]);
  points.sort((a, b) => a[1] - b[1]);
  return points.filter((point, i) => i === 0 || point[1] !== points[i - 1]?.[1]);
};

/** Formats a number for a table: fixed digits, `–` for NaN. */
export const fmt = (value: number, digits = 1): string =>
  Number.isNaN(value) || !Number.isFinite(value) ? '–' : value.toFixed(digits);
