import { GrpcCode } from '../../sources/gcp-names.js';
import { RpcError } from './status.js';

/**
 * The subset of Secret Manager's list filtering (https://cloud.google.com/secret-manager/docs/filtering)
 * the emulator understands: space- or `AND`-separated terms, each `field:value` (contains; `*` as the
 * value means "has") or `field=value` (equals), negated with a leading `-` or `NOT`. Values may be
 * double-quoted. Anything else (OR, comparisons, parentheses) is rejected with INVALID_ARGUMENT so that a
 * test never passes on a filter the emulator silently ignored.
 */
export type FieldLookup = (field: string) => string | string[] | undefined | null;

interface Term {
  negate: boolean;
  field: string;
  op: ':' | '=';
  value: string;
}

const TERM = /^(-)?([A-Za-z_][A-Za-z0-9_.-]*)(:|=)("(?:[^"\\]|\\.)*"|[^\s"]+)$/;

function invalid(filter: string, why: string): RpcError {
  return new RpcError(
    GrpcCode.INVALID_ARGUMENT,
    `Invalid filter [${filter}]: ${why} ` +
      '(keyflip emulator supports field:value, field=value, - and NOT, joined by AND).',
  );
}

function tokens(filter: string): string[] {
  const out: string[] = [];
  const re = /(?:[^\s"]+|"(?:[^"\\]|\\.)*")+/g;
  for (const m of filter.matchAll(re)) out.push(m[0]);
  return out;
}

export function parseFilter(filter: string | undefined): Term[] {
  if (!filter?.trim()) return [];
  const terms: Term[] = [];
  let negateNext = false;
  for (const token of tokens(filter)) {
    if (token === 'AND') continue;
    if (token === 'NOT') {
      negateNext = true;
      continue;
    }
    if (token === 'OR' || /[()<>]/.test(token)) throw invalid(filter, `unsupported [${token}]`);
    const m = TERM.exec(token);
    if (!m) throw invalid(filter, `cannot parse [${token}]`);
    let value = m[4] as string;
    if (value.startsWith('"')) value = value.slice(1, -1).replace(/\\(.)/g, '$1');
    terms.push({ negate: negateNext !== (m[1] === '-'), field: m[2] as string, op: m[3] as ':' | '=', value });
    negateNext = false;
  }
  if (negateNext) throw invalid(filter, 'NOT without a term');
  return terms;
}

/** Whether the item `lookup` describes matches every term. `lookup` returns undefined for a field it does not know. */
export function matches(terms: Term[], lookup: FieldLookup, filter: string): boolean {
  for (const term of terms) {
    const actual = lookup(term.field);
    if (actual === undefined) throw invalid(filter, `unsupported field [${term.field}]`);
    const values = actual === null ? [] : Array.isArray(actual) ? actual : [actual];
    let hit: boolean;
    if (term.op === ':' && term.value === '*') hit = values.length > 0;
    else if (term.op === '=') hit = values.some((v) => v.toLowerCase() === term.value.toLowerCase());
    else {
      const needle = term.value.replace(/\*/g, '').toLowerCase();
      hit = values.some((v) => v.toLowerCase().includes(needle));
    }
    if (hit === term.negate) return false;
  }
  return true;
}
