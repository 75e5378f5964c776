// Runtime ISA tiers: what the CPU offers, which tier is active, and switching tiers in-process.
import { native } from './native';
import { requireOneOf } from './validate';

/** Every tier name qkernels knows, on any architecture. */
export const ISAS = ['scalar', 'avx2', 'avx512', 'amx', 'neon', 'neon-dotprod'] as const;
export type Isa = (typeof ISAS)[number];

export interface CpuInfo {
  /** `'x64'`, `'arm64'` or `'unknown'`. */
  arch: string;
  /** The CPU's brand string where it reports one (x86 cpuid, macOS sysctl), else `''`. */
  model: string;
  /** Detected CPU features whose registers the OS saves (e.g. `'avx2'`, `'avx512vnni'`, `'asimddp'`). */
  features: string[];
  /** Tiers this build compiled and this CPU supports, best first; always ends with `'scalar'`. */
  isas: Isa[];
  /** The active tier. */
  isa: Isa;
}

/**
 * Describes the CPU and the kernel tiers.
 * @example
 * cpuInfo() // { arch: 'x64', model: 'AMD EPYC ...', features: ['sse2', ..., 'avx2'], isas: ['avx2', 'scalar'], isa: 'avx2' }
 */
export function cpuInfo(): CpuInfo {
  return native.cpuInfo() as CpuInfo;
}

/** The active tier. */
export function getIsa(): Isa {
  return native.cpuInfo().isa as Isa;
}

/**
 * Switches every op to the given tier for the whole process (tests and benchmarks use it to cover every tier in
 * one run). Throws a RangeError naming the available tiers when this CPU lacks it.
 * @returns the tier that was active before.
 */
export function setIsa(isa: Isa): Isa {
  requireOneOf('isa', isa, ISAS);
  const before = getIsa();
  native.setIsa(isa);
  return before;
}

/** Runs `fn` with `isa` active and restores the previous tier afterwards (also when `fn` throws). */
export function withIsa<T>(isa: Isa, fn: () => T): T {
  const before = setIsa(isa);
  try {
    return fn();
  } finally {
    native.setIsa(before);
  }
}
