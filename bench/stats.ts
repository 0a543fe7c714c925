/** Middle value (upper middle for an even count): the figure each row reports. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
}

/** "12.3 ms" below 100 ms, "123 ms", then "1.23 s". */
export function ms(value: number): string {
  if (!Number.isFinite(value)) return "n/a";
  if (Math.abs(value) < 100) return `${value.toFixed(1)} ms`;
  if (Math.abs(value) < 1000) return `${Math.round(value)} ms`;
  return `${(value / 1000).toFixed(2)} s`;
}

/** The spread of a sample, for the notes: "min–max over n runs". */
export function spread(xs: readonly number[]): string {
  if (xs.length === 0) return "no runs";
  return `${ms(Math.min(...xs))}–${ms(Math.max(...xs))} over ${xs.length} runs`;
}

export const pct = (ratio: number) => (Number.isFinite(ratio) ? `${(ratio * 100).toFixed(1)} %` : "n/a");

/** Wall-clock time in milliseconds with sub-millisecond precision, comparable with the engine's clock. */
export const wallNow = () => performance.timeOrigin + performance.now();
