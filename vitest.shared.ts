import { join } from 'node:path';

/**
 * With KEYFLIP_TEST_REPORT_DIR set (by .ci/run), each run also writes a JSON report there for the closing count,
 * named `name` plus KEYFLIP_TEST_REPORT_SUFFIX (`-node22`: a leg that runs a suite again on another Node).
 */
export function reporters(name: string): (string | [string, Record<string, unknown>])[] {
  const dir = process.env.KEYFLIP_TEST_REPORT_DIR;
  const file = `${name}${process.env.KEYFLIP_TEST_REPORT_SUFFIX ?? ''}.json`;
  return dir ? ['default', ['json', { outputFile: join(dir, file) }]] : ['default'];
}
