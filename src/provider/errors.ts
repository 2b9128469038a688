// Provider errors carry a class and a fix. The runner retries both classes (a permission can be
// granted while we run), but a permanent error is logged at error with its fix and shown in /status,
// and `faultAfter` gives up mastership in the meantime. Anything a provider throws that is not a
// ProviderError is classed by classifyError(): aborts and timeouts are retryable, the rest too
// (we cannot tell), with no fix.

export type ErrorClass = 'retryable' | 'permanent';

export class ProviderError extends Error {
  override name = 'ProviderError';
  readonly errorClass: ErrorClass;
  /** What the user should do about it (shown in /status and the log); null when there is nothing to do. */
  readonly fix: string | null;
  /** The backend's own code (e.g. "Throttling", "UnauthorizedOperation", "EPERM"), when it has one. */
  readonly code: string | null;

  constructor(message: string, opts: { errorClass: ErrorClass; fix?: string | null; code?: string | null; cause?: unknown }) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.errorClass = opts.errorClass;
    this.fix = opts.fix ?? null;
    this.code = opts.code ?? null;
  }
}

export function retryable(message: string, opts: { fix?: string | null; code?: string | null; cause?: unknown } = {}): ProviderError {
  return new ProviderError(message, { ...opts, errorClass: 'retryable' });
}

export function permanent(message: string, fix: string, opts: { code?: string | null; cause?: unknown } = {}): ProviderError {
  return new ProviderError(message, { ...opts, fix, errorClass: 'permanent' });
}

export interface ClassifiedError {
  message: string;
  errorClass: ErrorClass;
  fix: string | null;
  code: string | null;
}

/** Anything thrown by a provider, as the runner reports it. Never throws. */
export function classifyError(err: unknown): ClassifiedError {
  if (err instanceof ProviderError) return { message: err.message, errorClass: err.errorClass, fix: err.fix, code: err.code };
  if (err instanceof Error) {
    // NetError (src/net/link.ts) has a separate fix; local permission problems do not go away by retrying.
    const fields = err as unknown as { fix?: unknown; detail?: unknown; code?: unknown };
    const fix = typeof fields.fix === 'string' ? fields.fix : null;
    const detail = typeof fields.detail === 'string' ? fields.detail : err.message || err.name;
    const code = typeof fields.code === 'string' ? fields.code : null;
    const errorClass: ErrorClass = /not permitted|permission denied|EPERM|EACCES/i.test(detail) || code === 'EPERM' || code === 'EACCES' ? 'permanent' : 'retryable';
    return { message: detail, errorClass, fix, code };
  }
  return { message: String(err), errorClass: 'retryable', fix: null, code: null };
}
