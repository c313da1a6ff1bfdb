// Kubernetes: read keys from a mounted Secret volume and pick up updates without a restart.
//
//   # deployment.yaml (excerpt): mount the whole Secret as a directory — never with subPath,
//   # which Kubernetes does not update.
//   volumes:      [{ name: openai, secret: { secretName: openai } }]
//   volumeMounts: [{ name: openai, mountPath: /var/run/secrets/openai, readOnly: true }]
//
// Run: npx tsx examples/kubernetes-file.ts
// Without SECRETS_DIR set, it builds a directory laid out as the kubelet does (timestamped directory,
// `..data` symlink, one symlink per key) and updates it the way the kubelet does: an atomic `..data` swap.
import { mkdir, mkdtemp, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createResolver, fileSource } from 'keyflip';

const dir = process.env.SECRETS_DIR ?? (await fakeMount({ OPENAI_API_KEY_v1: 'sk-example-only-v1\n' }));

const resolver = createResolver({
  // One file per key in `dir`. The source watches the directory (a `..data` swap replaces the files'
  // inodes, so watching a file would miss it) and reports the `..data` target as the version.
  sources: [fileSource({ dir })],
  refreshMs: 60_000, // polling still runs, in case a watch event is missed
});
const openai = resolver.secret('OPENAI_API_KEY', 'OPENAI_API_KEY_v2 ?? OPENAI_API_KEY_v1');

resolver.on('rotate', ({ previous, current }) => {
  const from = `${previous.candidate} ${previous.fingerprint}`;
  console.log(`rotated: ${from} → ${current.candidate} ${current.fingerprint} (mount ${current.version})`);
});

await resolver.ready();
// The file's trailing newline is trimmed.
console.log(`serving ${openai.info?.candidate} ${openai.info?.fingerprint} (mount ${openai.info?.version})`);

if (process.env.SECRETS_DIR === undefined) {
  // `kubectl apply` adds OPENAI_API_KEY_v2 to the Secret; the kubelet swaps `..data` a little later.
  let timer: NodeJS.Timeout | undefined;
  const rotated = new Promise<void>((resolve) => {
    resolver.once('rotate', () => resolve());
    timer = setTimeout(resolve, 5_000); // the watch fires within milliseconds; don't wait forever
  });
  await updateMount(dir, { OPENAI_API_KEY_v1: 'sk-example-only-v1\n', OPENAI_API_KEY_v2: 'sk-example-only-v2\n' });
  await rotated;
  clearTimeout(timer);
  console.log(`serving ${openai.info?.candidate} (mount ${openai.info?.version})`);
  await rm(dir, { recursive: true, force: true });
}

await resolver.close();

// ── a mount laid out as the kubelet lays it out ────────────────────────────────────────────────────
//   dir/..2026_01_01_12_00_00.123456/OPENAI_API_KEY_v1   the data
//   dir/..data -> ..2026_01_01_12_00_00.123456            swapped atomically on update
//   dir/OPENAI_API_KEY_v1 -> ..data/OPENAI_API_KEY_v1         what the app opens

async function fakeMount(files: Record<string, string>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'keyflip-k8s-'));
  await updateMount(root, files);
  return root;
}

async function updateMount(root: string, files: Record<string, string>): Promise<void> {
  const previous = await readlink(join(root, '..data')).catch(() => undefined);
  const stamp = new Date().toISOString().replace(/[-:]/g, '_').replace('T', '_').replace('Z', '');
  const version = `..${stamp}${process.hrtime.bigint() % 1_000_000n}`;
  await mkdir(join(root, version));
  for (const [name, value] of Object.entries(files)) await writeFile(join(root, version, name), value, { mode: 0o400 });
  await symlink(version, join(root, '..data_tmp'));
  await rename(join(root, '..data_tmp'), join(root, '..data')); // the atomic swap
  for (const name of Object.keys(files)) await symlink(join('..data', name), join(root, name)).catch(() => undefined);
  if (previous !== undefined) await rm(join(root, previous), { recursive: true, force: true });
}
