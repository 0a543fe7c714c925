import { ConfigError } from "../../errors.js";
import type { Resources } from "../types.js";

const UNITS: Record<string, number> = { "": 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };
/** Docker refuses less than 6 MiB. */
const MIN_MEMORY = 6 * 1024 ** 2;

export function memory(raw: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([bkmg]?)b?$/i.exec(raw.trim());
  const bytes = m ? Math.floor(Number(m[1]) * (UNITS[m[2]!.toLowerCase()] ?? Number.NaN)) : Number.NaN;
  if (!Number.isFinite(bytes) || bytes < MIN_MEMORY) {
    throw new ConfigError(
      "memory",
      `memory "${raw}" is not a memory limit Docker accepts. Use a size of at least 6m, Docker style: 512m, 4g, 1.5g.`,
    );
  }
  return bytes;
}

export function cpus(raw: string): number {
  const text = raw.trim();
  const n = /^\d+(\.\d+)?$/.test(text) ? Number(text) : Number.NaN;
  if (!(n > 0) || n > 1024) {
    throw new ConfigError(
      "cpus",
      `cpus "${raw}" is not a CPU limit. Use a positive number of CPUs, e.g. 1.5 or 2.`,
    );
  }
  return Math.round(n * 1e9);
}

export function gpus(raw: string): NonNullable<Resources["gpus"]> {
  const text = raw.trim();
  if (text === "all") return "all";
  if (/^\d+$/.test(text) && Number(text) >= 1) return Number(text);
  throw new ConfigError("gpus", `gpus "${raw}" is not valid. Use "all" or a number of GPUs such as 1.`);
}
