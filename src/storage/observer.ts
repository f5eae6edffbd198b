// What the engine reports about its own work, for metrics; implemented at the edge (no dependency here).

export interface FlushObservation {
  /** Messages written by this group commit. */
  messages: number;
  bytes: number;
  /** Write plus fsync (when FSYNC=always), in milliseconds. */
  writeMs: number;
}

export interface StorageObserver {
  onFlush(o: FlushObservation): void;
  onWriteError(): void;
}

export const nullObserver: StorageObserver = { onFlush: () => undefined, onWriteError: () => undefined };
