import { join } from 'node:path';

/** With KEYFLIP_TEST_REPORT_DIR set (by .ci/run), each run also writes a JSON report there for the closing count. */
export function reporters(name: string): (string | [string, Record<string, unknown>])[] {
  const dir = process.env.KEYFLIP_TEST_REPORT_DIR;
  return dir ? ['default', ['json', { outputFile: join(dir, `${name}.json`) }]] : ['default'];
}
