// Durable file-system steps shared by the engine: directory fsync and atomic replace-by-rename.
import { open, rename } from 'node:fs/promises';
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/** A new or renamed directory entry survives a crash only once its directory is fsynced. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export function fsyncDirSync(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Creates `dir` and its missing parents so that they survive a power cut: a new directory's entry is durable only
 * once the directory holding it is fsynced (the power-cut suite loses the whole topic otherwise).
 */
export function mkdirDurableSync(dir: string): void {
  const first = mkdirSync(dir, { recursive: true });
  if (first !== undefined) for (const parent of newEntryParents(dir, first)) fsyncDirSync(parent);
}

/** The directories whose entries changed when `dir` was created down from `first` (its first new ancestor). */
function newEntryParents(dir: string, first: string): string[] {
  const parents: string[] = [];
  for (let d = dir; ; d = dirname(d)) {
    parents.push(dirname(d));
    if (d === first || dirname(d) === d) return parents;
  }
}

/** Replaces `path` with `data` so that a crash leaves either the old file or the new one, never a mix. */
export async function writeFileAtomic(path: string, data: Buffer | string): Promise<void> {
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  await fsyncDir(dirname(path));
}

export function writeFileAtomicSync(path: string, data: Buffer | string): void {
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    let done = 0;
    while (done < buf.length) done += writeSync(fd, buf, done, buf.length - done);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  fsyncDirSync(dirname(path));
}
