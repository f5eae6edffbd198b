#!/usr/bin/env node
// Mutation check of the power-cut suite: for each fsync / fdatasync / directory fsync of the storage engine, a copy of
// dist/ without that one call runs the FSYNC=always power-cut test, which must then fail. A call whose removal no power
// cut can observe is listed as `equivalent` with the reason; any other survivor fails this script.
//
//   npm run build && npm run test:powercut:mutations          (POWERCUT_ROUNDS=5 by default; ONLY=id1,id2 to pick;
//   POWERCUT_SPEC=test/powercut/directories.powercut-spec.ts POWERCUT_FILTER=directories for the deterministic tests;
//   POWERCUT_MUTATION_LOGS=<dir> keeps each run's full output)
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const rounds = process.env.POWERCUT_ROUNDS ?? '5';
// Which power-cut tests judge the mutants (comma-separated files, and a -t name filter).
const spec = process.env.POWERCUT_SPEC ?? 'test/powercut/broker.powercut-spec.ts';
const filter = process.env.POWERCUT_FILTER ?? 'FSYNC=always';

/** id, file under dist/storage, exact text of the call site, its replacement, and why a survivor would be fine. */
const MUTANTS = [
  { id: 'log-append-datasync', file: 'log.js', find: "await writeFully(fh, buf, seg.size);\n            if (this.config.fsync === 'always')\n                await fh.datasync();", replace: "await writeFully(fh, buf, seg.size);\n            if (this.config.fsync === 'always')\n                await undefined;" },
  {
    id: 'log-preallocate-datasync', file: 'log.js', find: '            }\n            await fh.datasync();\n            this.preallocatedTo = target;', replace: '            }\n            this.preallocatedTo = target;',
    equivalent: 'the zeros are never read; the data write that follows fdatasyncs the same file (size included)',
  },
  { id: 'log-roll-seal-datasync', file: 'log.js', find: 'await this.trimPreallocation(fh, old);\n            await fh.datasync();', replace: 'await this.trimPreallocation(fh, old);' },
  {
    id: 'log-roll-index-datasync', file: 'log.js', find: 'await this.rewriteIndex(old, true);', replace: 'await this.rewriteIndex(old, false);',
    equivalent: 'the index is a cache: a lost or torn sealed index is checked against the log and rebuilt',
  },
  { id: 'log-roll-dir-fsync', file: 'log.js', find: 'await (0, fs_durable_1.fsyncDir)(this.dir);', replace: '' },
  {
    id: 'log-new-segment-file-fsync', file: 'log.js', find: "'w');\n        (0, node_fs_1.fsyncSync)(fd);\n        (0, node_fs_1.closeSync)(fd);", replace: "'w');\n        (0, node_fs_1.closeSync)(fd);",
    equivalent: 'the new files are empty: only their directory entries matter',
  },
  { id: 'log-new-segment-dir-fsync', file: 'log.js', find: "const dfd = (0, node_fs_1.openSync)(dir, 'r');\n    (0, node_fs_1.fsyncSync)(dfd);", replace: "const dfd = (0, node_fs_1.openSync)(dir, 'r');" },
  {
    id: 'log-recovery-truncate-fsync', file: 'log.js', find: '(0, segment_1.truncateFile)(fd, scan.validEnd);\n            (0, node_fs_1.fsyncSync)(fd);', replace: '(0, segment_1.truncateFile)(fd, scan.validEnd);',
    equivalent: 'a torn tail that comes back is cut again at the next recovery, and the next append fdatasyncs the file',
  },
  {
    id: 'log-close-datasync', file: 'log.js', find: 'await this.trimPreallocation(fh, seg);\n                    await fh.datasync();', replace: 'await this.trimPreallocation(fh, seg);',
    equivalent: 'graceful shutdown only (SIGTERM); the power-cut suite kills with SIGKILL, and every append was fsynced already',
  },
  { id: 'cursor-commit-datasync', file: 'cursor-store.js', find: "if (this.fsync === 'always')\n                await this.handle.datasync();", replace: "if (this.fsync === 'always')\n                await undefined;" },
  {
    id: 'cursor-create-fsync', file: 'cursor-store.js', find: "(path, 'w');\n            (0, node_fs_1.fsyncSync)(fd);", replace: "(path, 'w');",
    equivalent: 'an empty new file; its entry is made durable by the topic.json write that follows',
  },
  {
    id: 'cursor-open-truncate-fsync', file: 'cursor-store.js', find: '(0, node_fs_1.ftruncateSync)(fd, validEnd);\n            (0, node_fs_1.fsyncSync)(fd);', replace: '(0, node_fs_1.ftruncateSync)(fd, validEnd);',
    equivalent: 'a torn commit that comes back is cut again at the next open',
  },
  { id: 'group-batch-datasync', file: 'group-store.js', find: "if (this.options.fsync === 'always')\n                await this.handle.datasync();", replace: "if (this.options.fsync === 'always')\n                await undefined;" },
  {
    id: 'group-create-file-sync', file: 'group-store.js', find: "(path, 'w');\n            await fh.sync();", replace: "(path, 'w');",
    equivalent: 'an empty new file: only its directory entry matters',
  },
  { id: 'group-create-dir-fsync', file: 'group-store.js', find: 'await fh.close();\n            await (0, fs_durable_1.fsyncDir)((0, node_path_1.dirname)(path));', replace: 'await fh.close();' },
  { id: 'group-create-parent-fsync', file: 'group-store.js', find: 'await (0, fs_durable_1.fsyncDir)((0, node_path_1.dirname)((0, node_path_1.dirname)(path)));', replace: '' },
  {
    id: 'group-open-truncate-sync', file: 'group-store.js', find: 'await fh.truncate(validEnd);\n                await fh.sync();', replace: 'await fh.truncate(validEnd);',
    equivalent: 'a torn record that comes back is cut again at the next open',
  },
  {
    id: 'atomic-file-sync', file: 'fs-durable.js', find: 'await fh.writeFile(data);\n        await fh.sync();', replace: 'await fh.writeFile(data);',
    equivalent: 'used only by cursor/group compaction, which needs ≥ 256 KiB-1 MiB of log: more than a round writes',
  },
  {
    id: 'atomic-dir-fsync', file: 'fs-durable.js', find: 'await (0, promises_1.rename)(tmp, path);\n    await fsyncDir((0, node_path_1.dirname)(path));', replace: 'await (0, promises_1.rename)(tmp, path);',
    equivalent: 'used only by cursor/group compaction, which needs ≥ 256 KiB-1 MiB of log: more than a round writes',
  },
  { id: 'atomic-sync-file-fsync', file: 'fs-durable.js', find: 'done += (0, node_fs_1.writeSync)(fd, buf, done, buf.length - done);\n        (0, node_fs_1.fsyncSync)(fd);', replace: 'done += (0, node_fs_1.writeSync)(fd, buf, done, buf.length - done);' },
  { id: 'atomic-sync-dir-fsync', file: 'fs-durable.js', find: '(0, node_fs_1.renameSync)(tmp, path);\n    fsyncDirSync((0, node_path_1.dirname)(path));', replace: '(0, node_fs_1.renameSync)(tmp, path);' },
  { id: 'mkdir-parent-fsync', file: 'fs-durable.js', find: 'for (const parent of newEntryParents(dir, first))\n            fsyncDirSync(parent);', replace: ';' },
  { id: 'topic-delete-dir-fsync', file: 'broker.js', find: '(0, fs_durable_1.fsyncDirSync)(this.topicsDir);\n        (0, fs_durable_1.fsyncDirSync)(this.trashDir);', replace: '' },
  { id: 'idempotency-append-datasync', file: 'idempotency-store.js', find: "if (this.fsync === 'always')\n                await this.handle.datasync();", replace: "if (this.fsync === 'always')\n                await undefined;" },
];

function runSuite(mainJs, label) {
  const started = Date.now();
  const r = spawnSync(
    join(repo, 'node_modules/.bin/jest'),
    ['--selectProjects', 'powercut', '--runInBand', ...spec.split(','), '-t', filter],
    {
      cwd: repo,
      encoding: 'utf8',
      timeout: 400_000,
      env: {
        ...process.env,
        PATH: `${join(repo, 'node_modules/.bin')}:${process.env.PATH}`,
        NODE_OPTIONS: '--experimental-vm-modules',
        CRASH_BROKER_MAIN: mainJs,
        POWERCUT_ROUNDS: rounds,
      },
    },
  );
  const out = `${r.stdout}\n${r.stderr}`;
  if (process.env.POWERCUT_MUTATION_LOGS) writeFileSync(join(process.env.POWERCUT_MUTATION_LOGS, `${label}.log`), out);
  // The first problem the suite reported (what the power cut lost), for the table.
  const problem = /^\s*\+\s+"(.+)",?$/m.exec(out)?.[1] ?? /●.*\n\n\s+(.+(?:\n\s+\S.*){0,3})/.exec(out)?.[1]?.replace(/\s*\n\s*/g, ' ') ?? '';
  return { passed: r.status === 0, seconds: Math.round((Date.now() - started) / 1000), problem: problem.slice(0, 160) };
}

const only = process.env.ONLY?.split(',');
const chosen = MUTANTS.filter((m) => !only || only.includes(m.id));
const work = mkdtempSync(join(tmpdir(), 'mk-mutants-'));
symlinkSync(join(repo, 'node_modules'), join(work, 'node_modules'));
const results = [];
try {
  if (!only) {
    const base = runSuite(join(repo, 'dist/main.js'), 'baseline');
    console.log(`baseline (unmutated dist): ${base.passed ? 'passes' : 'FAILS'} in ${base.seconds} s`);
    if (!base.passed) throw new Error(`the unmutated build fails the power-cut suite: ${base.problem}`);
  }
  for (const m of chosen) {
    const dist = join(work, 'dist');
    rmSync(dist, { recursive: true, force: true });
    cpSync(join(repo, 'dist'), dist, { recursive: true });
    const file = join(dist, 'storage', m.file);
    const src = readFileSync(file, 'utf8');
    const count = src.split(m.find).length - 1;
    if (count !== 1) {
      results.push({ ...m, outcome: `site not found (${count} matches)` });
      console.log(`${m.id}: call site not found in dist/storage/${m.file} (${count} matches)`);
      continue;
    }
    writeFileSync(file, src.replace(m.find, m.replace));
    if (spawnSync(process.execPath, ['--check', file]).status !== 0) {
      results.push({ ...m, outcome: 'invalid mutant (syntax error)' });
      console.log(`${m.id}: the mutated dist/storage/${m.file} does not parse`);
      continue;
    }
    const r = runSuite(join(dist, 'main.js'), m.id);
    const outcome = r.passed ? (m.equivalent ? 'survived (equivalent)' : 'SURVIVED') : 'caught';
    results.push({ ...m, outcome, ...r });
    console.log(`${m.id}: ${outcome} in ${r.seconds} s${r.passed ? (m.equivalent ? ` — ${m.equivalent}` : '') : ` — ${r.problem}`}`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
const caught = results.filter((r) => r.outcome === 'caught').length;
const expected = results.filter((r) => !r.equivalent).length;
console.log(`\n${caught} of ${results.length} mutants caught; ${caught} of ${expected} that a power cut can observe.`);
console.log('| mutant | outcome | what the power cut broke, or why it cannot |\n|---|---|---|');
for (const r of results) console.log(`| ${r.id} | ${r.outcome} | ${(r.outcome === 'caught' ? r.problem : (r.equivalent ?? '')).replace(/\|/g, '/')} |`);
const bad = results.filter((r) => r.outcome === 'SURVIVED' || r.outcome.startsWith('site not found') || r.outcome.startsWith('invalid'));
process.exit(bad.length > 0 ? 1 : 0);
