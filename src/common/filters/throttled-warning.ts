// One log line per kind of server-side failure per window, not one per request: a full disk answers every
// produce with a 503, and a line (let alone a stack) for each would only fill the log that shares that disk.

/**
 * The first occurrence of a key is logged at once; the ones that follow within `windowMs` are counted, and
 * when the window ends one line reports them ("N more in the last 10 s") and opens the next window. A key
 * that stops occurring logs nothing more.
 */
export class ThrottledWarning {
  private readonly windows = new Map<string, { suppressed: number; last: string; timer: NodeJS.Timeout }>();

  constructor(
    private readonly windowMs: number,
    private readonly log: (message: string) => void,
  ) {}

  warn(key: string, message: string): void {
    const open = this.windows.get(key);
    if (open) {
      open.suppressed++;
      open.last = message;
      return;
    }
    this.log(message);
    this.openWindow(key, message);
  }

  private openWindow(key: string, message: string): void {
    const timer = setTimeout(() => {
      const w = this.windows.get(key)!;
      this.windows.delete(key);
      if (w.suppressed === 0) return;
      this.log(`${w.last} (${w.suppressed} more like this in the last ${Math.round(this.windowMs / 1000)} s)`);
      this.openWindow(key, w.last);
    }, this.windowMs);
    timer.unref();
    this.windows.set(key, { suppressed: 0, last: message, timer });
  }
}
