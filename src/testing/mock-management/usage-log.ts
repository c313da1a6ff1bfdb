/**
 * The model requests the mock really served, one entry each, and the time buckets the usage endpoints build from
 * them: aligned to the bucket width in UTC, hiding every request newer than now minus the reporting lag.
 */

/** One served model request. */
export interface UsageEntry {
  readonly keyId: string;
  readonly atMs: number;
  readonly model: string;
  readonly inputTokens: number;
  readonly outputTokens: number;
}

/** The fields a usage report can group by that the mock fills in. */
export type UsageGroupField = 'api_key_id' | 'model' | 'scope';

/** One group of requests in one bucket. */
export interface UsageGroup {
  readonly keyId: string | undefined;
  readonly model: string | undefined;
  readonly grouped: ReadonlySet<UsageGroupField>;
  requests: number;
  inputTokens: number;
  outputTokens: number;
}

/** One time bucket: `[startMs, endMs)`. */
export interface UsageBucket {
  readonly startMs: number;
  readonly endMs: number;
  readonly groups: readonly UsageGroup[];
}

/** What {@link UsageLog.buckets} takes. */
export interface UsageQuery {
  /** The first bucket's start (already aligned to `widthMs`). */
  firstMs: number;
  widthMs: number;
  count: number;
  /** Requests at or after this time are not reported yet (now minus the lag). */
  visibleBeforeMs: number;
  keyIds: readonly string[];
  models: readonly string[];
  groupBy: ReadonlySet<UsageGroupField>;
}

/** Bucket widths, ms. */
export const BUCKET_WIDTHS = { '1m': 60_000, '1h': 3_600_000, '1d': 86_400_000 } as const;
/** A bucket width the usage endpoints take. */
export type BucketWidth = keyof typeof BUCKET_WIDTHS;
/** Default and largest `limit` (buckets per page) for each width (the same at OpenAI and Anthropic). */
export const BUCKET_LIMITS: Record<BucketWidth, { default: number; max: number }> = {
  '1m': { default: 60, max: 1440 },
  '1h': { default: 24, max: 168 },
  '1d': { default: 7, max: 31 },
};

/** The served requests of one mock. */
export interface UsageLog {
  record(entry: UsageEntry): void;
  buckets(query: UsageQuery): UsageBucket[];
}

/** An empty {@link UsageLog}. */
export function createUsageLog(): UsageLog {
  const entries: UsageEntry[] = [];
  return {
    record(entry) {
      entries.push(entry);
    },
    buckets(query) {
      const keyIds = new Set(query.keyIds);
      const models = new Set(query.models);
      const groups = Array.from({ length: query.count }, () => new Map<string, UsageGroup>());
      const endMs = query.firstMs + query.count * query.widthMs;
      for (const entry of entries) {
        if (entry.atMs < query.firstMs || entry.atMs >= endMs || entry.atMs >= query.visibleBeforeMs) continue;
        if (keyIds.size > 0 && !keyIds.has(entry.keyId)) continue;
        if (models.size > 0 && !models.has(entry.model)) continue;
        const bucket = groups[Math.floor((entry.atMs - query.firstMs) / query.widthMs)] as Map<string, UsageGroup>;
        const keyId = query.groupBy.has('api_key_id') ? entry.keyId : undefined;
        const model = query.groupBy.has('model') ? entry.model : undefined;
        const name = `${keyId ?? ''}\n${model ?? ''}`;
        let group = bucket.get(name);
        if (group === undefined) {
          group = { keyId, model, grouped: query.groupBy, requests: 0, inputTokens: 0, outputTokens: 0 };
          bucket.set(name, group);
        }
        group.requests++;
        group.inputTokens += entry.inputTokens;
        group.outputTokens += entry.outputTokens;
      }
      return groups.map((bucket, i) => ({
        startMs: query.firstMs + i * query.widthMs,
        endMs: query.firstMs + (i + 1) * query.widthMs,
        groups: [...bucket.values()],
      }));
    },
  };
}
