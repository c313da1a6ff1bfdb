/** Every relative link in the README and the docs points at a file that exists, and at a heading that exists. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { expect, it } from 'vitest';

const root = join(import.meta.dirname, '../..');
const pages = [
  'README.md',
  'CONTRIBUTING.md',
  'CHANGELOG.md',
  ...readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

/** The text outside code blocks, where links and headings live. */
const prose = (file: string): string => readFileSync(join(root, file), 'utf8').replace(/```[\s\S]*?```/g, '');

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
const slug = (heading: string): string =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\w\- ]/g, '')
    .replace(/ /g, '-');

const anchors = (file: string): Set<string> =>
  new Set([...prose(file).matchAll(/^#+ (.*)$/gm)].map((m) => slug(m[1] ?? '')));

it('every relative link and anchor of the README and docs resolves', () => {
  const broken: string[] = [];
  let checked = 0;
  for (const page of pages) {
    for (const [, link = ''] of prose(page).matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(link)) continue;
      checked += 1;
      const [path = '', anchor] = link.split('#');
      const target = path === '' ? page : normalize(join(dirname(page), path));
      if (!existsSync(join(root, target))) broken.push(`${page}: ${link} (no file ${relative('.', target)})`);
      else if (anchor && target.endsWith('.md') && !anchors(target).has(anchor)) broken.push(`${page}: ${link}`);
    }
  }
  expect(broken).toEqual([]);
  expect(checked).toBeGreaterThan(50);
});

it('the README stays a first-contact page: at most 15 KB, opening with the two commands', () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  expect(Buffer.byteLength(readme)).toBeLessThanOrEqual(15 * 1024);
  const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
  expect(firstBlock).toMatch(/^npm ci && npm run demo\b/m);
  expect(firstBlock).toMatch(/^npm ci && npm test\b/m);
  expect(readme).toContain('npm install keyflip');
});
