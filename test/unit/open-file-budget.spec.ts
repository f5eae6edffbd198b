// The start-up check of the process's open-file limit against MAX_OPEN_SEGMENTS.
import { resourceExhausted, StorageError } from '../../src/storage/errors';
import { openFileBudget, readOpenFileLimit, RESERVED_DESCRIPTORS } from '../../src/storage/open-file-budget';

const limits = (soft: string) =>
  `Limit                     Soft Limit           Hard Limit           Units\nMax processes             unlimited            unlimited            processes\nMax open files            ${soft}                 524288               files\n`;

describe('open-file budget', () => {
  it('reads the soft open-file limit, and null when unlimited or unreadable', () => {
    expect(readOpenFileLimit(limits('1024'))).toBe(1024);
    expect(readOpenFileLimit(limits('unlimited'))).toBeNull();
    expect(readOpenFileLimit('nothing here')).toBeNull();
    expect(readOpenFileLimit()).toBeGreaterThan(0); // this process, on Linux
  });

  it('fits MAX_OPEN_SEGMENTS plus the reserve, and says what to change when it does not', () => {
    expect(openFileBudget(256, 1024)).toMatchObject({ fits: true, limit: 1024, engineFiles: 256 });
    expect(openFileBudget(256, 256 + RESERVED_DESCRIPTORS).fits).toBe(true);
    const tight = openFileBudget(256, 300);
    expect(tight.fits).toBe(false);
    expect(tight.summary).toContain(`ulimit -n ${256 + RESERVED_DESCRIPTORS}`);
    expect(tight.summary).toContain(`MAX_OPEN_SEGMENTS to at most ${300 - RESERVED_DESCRIPTORS}`);
    expect(openFileBudget(256, null).fits).toBe(true);
  });
});

describe('resource limits as errors', () => {
  it('turns EMFILE, ENFILE, ENOMEM and ENOSPC into 503-class STORAGE_UNAVAILABLE with Retry-After, and nothing else', () => {
    const sys = (code: string) => Object.assign(new Error(code), { code });
    for (const code of ['EMFILE', 'ENFILE', 'ENOMEM', 'ENOSPC']) {
      const e = resourceExhausted(sys(code));
      expect(e).toBeInstanceOf(StorageError);
      expect(e).toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
      expect(e!.retryAfterSeconds).toBeGreaterThan(0);
    }
    expect(resourceExhausted(sys('EMFILE'))!.message).toMatch(/open-file limit \(ulimit -n\).*MAX_OPEN_SEGMENTS/);
    expect(resourceExhausted(sys('EACCES'))).toBeNull();
    expect(resourceExhausted(new Error('plain'))).toBeNull();
    expect(resourceExhausted(undefined)).toBeNull();
  });
});
