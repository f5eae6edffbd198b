// How the process's open-file limit (ulimit -n) compares with what the engine may hold open. The engine's
// files stay under MAX_OPEN_SEGMENTS (handle-cache.ts); the rest of the limit is for client connections,
// logs, group journals and short-lived files (topic creation, snapshots), and a limit too small for both
// is refused at start rather than discovered as EMFILE under load.
import { readFileSync } from 'node:fs';

/** Descriptors kept beside the engine's files: sockets, stdio, group journals, transient files. */
export const RESERVED_DESCRIPTORS = 128;

export interface OpenFileBudget {
  /** The soft limit, or null where it cannot be read (not Linux). */
  limit: number | null;
  engineFiles: number;
  reserved: number;
  fits: boolean;
  summary: string;
}

/** The soft "Max open files" of this process, from /proc/self/limits; null when unknown or unlimited. */
export function readOpenFileLimit(limitsText?: string): number | null {
  let text = limitsText;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/limits', 'utf8');
    } catch {
      return null;
    }
  }
  const m = /^Max open files\s+(\S+)/m.exec(text);
  if (!m || m[1] === 'unlimited') return null;
  const n = Number(m[1]);
  return Number.isFinite(n) ? n : null;
}

export function openFileBudget(maxOpenSegments: number, limit = readOpenFileLimit()): OpenFileBudget {
  const needed = maxOpenSegments + RESERVED_DESCRIPTORS;
  const fits = limit === null || limit >= needed;
  const summary =
    limit === null
      ? `open-file limit unknown; the engine holds at most ${maxOpenSegments} files (MAX_OPEN_SEGMENTS)`
      : fits
        ? `open-file limit ${limit}: the engine holds at most ${maxOpenSegments} files (MAX_OPEN_SEGMENTS), ${limit - maxOpenSegments} left for connections and the rest`
        : `open-file limit ${limit} is below MAX_OPEN_SEGMENTS=${maxOpenSegments} + ${RESERVED_DESCRIPTORS} for connections and the rest: ` +
          `raise it (ulimit -n ${needed}, or --ulimit nofile=${needed} for docker) or set MAX_OPEN_SEGMENTS to at most ${Math.max(0, limit - RESERVED_DESCRIPTORS)}`;
  return { limit, engineFiles: maxOpenSegments, reserved: RESERVED_DESCRIPTORS, fits, summary };
}
