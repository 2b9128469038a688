// prom-client, loaded piece by piece for the agent (metrics.ts is the only user).
//
// prom-client's index also loads its push gateway (http, https, zlib), cluster aggregation, summaries
// (tdigest) and OpenTelemetry: ~2.4 MB more resident memory in a process whose budget is 50 MiB
// (issue #5). The registry, the three metric types and the process/Node metric modules the agent
// exposes are plain CommonJS files of the package (it has no "exports" map), loaded here directly;
// the types come from the package's own declarations.
//
// Left out on purpose: prom-client's eventLoopLag (monitorEventLoopDelay at 10 ms resolution wakes the
// process 100 times a second — the agent measures its own timers' lateness instead, see metrics.ts),
// gc (a PerformanceObserver callback on every GC) and processCpuTotal (it loads OpenTelemetry).
import { createRequire } from 'node:module';
import type * as Prom from 'prom-client';

const require = createRequire(import.meta.url);

export const Registry = require('prom-client/lib/registry.js') as typeof Prom.Registry;
export const Gauge = require('prom-client/lib/gauge.js') as typeof Prom.Gauge;
export const Counter = require('prom-client/lib/counter.js') as typeof Prom.Counter;
export const Histogram = require('prom-client/lib/histogram.js') as typeof Prom.Histogram;
export type Registry = Prom.Registry;
export type Gauge<T extends string = string> = Prom.Gauge<T>;
export type Counter<T extends string = string> = Prom.Counter<T>;
export type Histogram<T extends string = string> = Prom.Histogram<T>;

type DefaultMetric = (registry: Prom.Registry, config?: object) => void;

/**
 * prom-client's standard process and Node metrics that cost nothing between scrapes (each reads its
 * value in collect()): process_resident_memory_bytes, process_virtual_memory_bytes, process_heap_bytes,
 * process_open_fds, process_max_fds, process_start_time_seconds, nodejs_heap_size_{total,used}_bytes,
 * nodejs_external_memory_bytes, nodejs_version_info.
 */
export function registerProcessMetrics(registry: Prom.Registry): void {
  for (const m of ['osMemoryHeap', 'processOpenFileDescriptors', 'processMaxFileDescriptors', 'processStartTime', 'heapSizeAndUsed', 'version']) {
    (require(`prom-client/lib/metrics/${m}.js`) as DefaultMetric)(registry, {});
  }
}
