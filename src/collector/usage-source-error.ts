/** The error of a usage source that asks another system (a collector over HTTP, Prometheus) and gets no answer. */
import { KeyflipError } from '../errors.js';

/**
 * Why a remote usage source could not answer.
 * @inline
 */
export type UsageSourceErrorCode = 'UNREACHABLE' | 'UNAUTHORIZED' | 'HTTP_STATUS' | 'BAD_RESPONSE';

/**
 * Why `collectorUsageSource` or `prometheusUsageSource` could not answer: `UNREACHABLE` (network, timeout),
 * `UNAUTHORIZED` (401/403), `HTTP_STATUS` (another non-2xx), `BAD_RESPONSE` (an answer that is not one).
 */
export class UsageSourceError extends KeyflipError {
  override name = 'UsageSourceError';
  declare readonly code: UsageSourceErrorCode;
  /** The HTTP status, when there was an answer. */
  readonly status: number | undefined;

  constructor(code: UsageSourceErrorCode, message: string, status?: number) {
    super(code, message);
    this.status = status;
  }
}
