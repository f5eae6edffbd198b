// Drives test/powercut/lazyfs.py from the tests: mount over a temp dir, cut the power, unmount and mount again.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const PYTHON = '/usr/bin/python3';
const LAZYFS_PY = resolve(__dirname, 'lazyfs.py');
const MOUNT_TIMEOUT_MS = 10_000;

/** What a cut dropped (from lazyfs.py). */
export interface CutReport {
  files: number;
  data_ops_dropped: number;
  data_ops_kept: number;
  bytes_dropped: number;
  dirops_dropped: number;
  dirops_kept: number;
  torn: boolean;
}

/**
 * Throws, naming what to install, when this machine cannot run the power-cut suite: the suite must fail loudly
 * rather than skip, or a CI without FUSE would report durability it never checked.
 */
export function assertPowerCutPrerequisites(): void {
  const missing: string[] = [];
  if (!existsSync('/dev/fuse')) missing.push('/dev/fuse is missing (load the fuse module; in a container: --device /dev/fuse --cap-add SYS_ADMIN)');
  if (!existsSync(PYTHON)) missing.push(`${PYTHON} is missing (apt-get install python3)`);
  else if (spawnSync(PYTHON, ['-c', 'import fusepy'], { stdio: 'ignore' }).status !== 0) {
    missing.push('the Python module fusepy is missing (apt-get install fuse3 python3-fusepy)');
  }
  if (missing.length > 0) throw new Error(`The power-cut suite cannot run: ${missing.join('; ')}`);
}

/** A lazyfs mount: `dir` is where the broker's DATA_DIR goes; `cut()` is the power cut. */
export class LazyFsMount {
  readonly base: string;
  readonly dir: string;
  private readonly control: string;
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private output = '';

  private constructor(root: string) {
    this.base = join(root, 'backing');
    this.dir = join(root, 'mnt');
    this.control = join(root, 'control.sock');
    mkdirSync(this.base);
    mkdirSync(this.dir);
  }

  static async create(): Promise<LazyFsMount> {
    assertPowerCutPrerequisites();
    const m = new LazyFsMount(mkdtempSync(join(tmpdir(), 'mk-powercut-')));
    await m.mount();
    return m;
  }

  /** Starts lazyfs.py and resolves once the file system answers (its init callback printed "ready"). */
  async mount(): Promise<void> {
    if (this.child) throw new Error('already mounted');
    const child = spawn(PYTHON, [LAZYFS_PY, this.base, this.dir, this.control], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.output = '';
    this.exited = new Promise((done) => child.once('exit', () => done()));
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString('utf8')).slice(-8000);
    };
    child.stderr!.on('data', keep);
    await new Promise<void>((ready, fail) => {
      const timer = setTimeout(() => fail(new Error(`lazyfs did not mount within ${MOUNT_TIMEOUT_MS} ms:\n${this.output}`)), MOUNT_TIMEOUT_MS);
      child.stdout!.on('data', (chunk: Buffer) => {
        keep(chunk);
        if (this.output.includes('ready')) {
          clearTimeout(timer);
          ready();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        fail(new Error(`lazyfs exited (${code}) before mounting:\n${this.output}`));
      });
    });
  }

  /** Drops everything not made durable, as a power cut would (torn: a random prefix of the unsynced state survives). */
  async cut(torn: boolean, seed: number): Promise<CutReport> {
    const answer = (await this.request({ cmd: 'cut', torn, seed })) as CutReport & { error?: string };
    if (answer.error) throw new Error(`lazyfs cut failed: ${answer.error}\n${this.output}`);
    return answer;
  }

  /**
   * From now on an fsync of a file whose name ends with `suffix` hangs until the cut and then fails (a slow disk at a
   * chosen moment). A process blocked in such an fsync cannot die before the cut: SIGKILL it, cut, then wait for it.
   */
  async stallFsync(suffix: string): Promise<void> {
    await this.request({ cmd: 'stall', suffix });
  }

  async stats(): Promise<Record<string, number>> {
    return (await this.request({ cmd: 'stats' })) as Record<string, number>;
  }

  /** Unmounts (the processes using the mount must be gone) and waits for lazyfs.py to exit. */
  async unmount(): Promise<void> {
    if (!this.child) return;
    const r = spawnSync('umount', [this.dir], { encoding: 'utf8' });
    if (r.status !== 0 && isMounted(this.dir)) spawnSync('umount', ['-l', this.dir]);
    let timer: NodeJS.Timeout | undefined;
    const exited = await Promise.race([this.exited.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 5000)))]);
    clearTimeout(timer);
    if (!exited) this.child.kill('SIGKILL');
    if (process.env.POWERCUT_DEBUG && this.output.trim() !== 'ready') process.stderr.write(`[lazyfs output] ${this.output}\n`);
    await this.exited;
    this.child = null;
  }

  /** The power cut as the tests use it: the broker is already dead; drop the unsynced state, then a fresh mount. */
  async powerCut(torn: boolean, seed: number): Promise<CutReport> {
    const report = await this.cut(torn, seed);
    await this.unmount();
    await this.mount();
    return report;
  }

  async destroy(): Promise<void> {
    await this.unmount();
    rmSync(join(this.base, '..'), { recursive: true, force: true });
  }

  get recentOutput(): string {
    return this.output;
  }

  private request(body: object): Promise<unknown> {
    return new Promise((done, fail) => {
      const sock = connect(this.control);
      let buf = '';
      sock.setEncoding('utf8');
      sock.on('data', (d: string) => (buf += d));
      sock.on('end', () => {
        try {
          done(JSON.parse(buf));
        } catch (err) {
          fail(new Error(`lazyfs answered ${JSON.stringify(buf)}: ${String(err)}`));
        }
      });
      sock.on('error', fail);
      sock.write(JSON.stringify(body) + '\n');
    });
  }
}

function isMounted(dir: string): boolean {
  return readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .some((l) => l.split(' ')[1] === dir);
}

