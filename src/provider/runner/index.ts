// The provider runner: a pure policy (step.ts) driven on a Clock (driver.ts), with a rate limiter and
// a verify batch shared per provider type (createTypeResources). See each file's header.
export { ProviderRunner, DEFAULT_ABORT_GRACE_MS, type ProviderRunnerOptions, type ProviderRunnerStatus } from './driver.js';
export { backoffDelayMs, type Goal, type ProviderCounters } from './step.js';
export { realClock, type Clock } from './clock.js';
export { RateLimiter } from './rate-limiter.js';
export { VerifyBatch, createTypeResources, type TypeResources } from './verify-batch.js';
