#!/usr/bin/python3
"""A power-cut file system for tests (Jepsen's LazyFS idea, small): a FUSE passthrough that forgets what was not synced.

Usage: lazyfs.py BACKING_DIR MOUNTPOINT CONTROL_SOCKET

Every operation goes through to BACKING_DIR/root at once, so the process using the mount reads its own writes and
sees true file sizes. What is not yet durable is kept as an undo journal instead:
  - file data (write, truncate, O_TRUNC): per inode, with the bytes each operation overwrote or cut; an fsync or
    fdatasync of that inode (through any descriptor) makes all of them durable;
  - directory entries (create, mkdir, unlink, rmdir, rename): each needs an fsync of its parent directory (both
    parents for a rename) *after* it; a file's own fsync does not make its name durable. Removed or replaced files
    are parked in BACKING_DIR/graves so a cut can bring them back.
A "cut" command on CONTROL_SOCKET (a line of JSON: {"cmd": "cut", "torn": true, "seed": 7}) is the power cut: every
unsynced data operation is undone, newest first (torn: per file, a random prefix of the unsynced writes survives,
the last one cut at a random byte; a random prefix of the pending directory operations survives too), every pending
directory operation is undone, and from then on every operation fails with EIO until the file system is unmounted.
Answers are one line of JSON. {"cmd": "stats"} reports counters; {"cmd": "stall", "suffix": "x.log"} makes every later
fsync of a file named *x.log hang until the cut (a slow disk at a chosen moment), and lose to it. Single-threaded on purpose: one FUSE request at a time.
"""
import errno
import json
import os
import random
import socket
import stat
import sys
import threading

try:
    from fusepy import FUSE, FuseOSError, Operations
except ImportError:  # pragma: no cover - the harness checks this first and names the packages to install
    sys.stderr.write('lazyfs.py needs fusepy: apt-get install fuse3 python3-fusepy\n')
    sys.exit(3)

# libfuse hides a file that is unlinked (or replaced by a rename) while still open: it renames it to .fuse_hidden*
# and unlinks that name when the last descriptor closes. Both are journaled like any rename and unlink, so a cut
# before the directory's fsync can undo the pair in order (at worst a .fuse_hidden* file is left behind).


def is_zero(b):
    return b.count(0) == len(b)


class LazyFS(Operations):
    use_ns = True

    def __init__(self, base):
        self.root = os.path.join(base, 'root')
        self.graves = os.path.join(base, 'graves')
        os.makedirs(self.root, exist_ok=True)
        # What a previous mount parked is gone for good: everything on the backing store is durable at mount time.
        if os.path.isdir(self.graves):
            os.system('rm -rf -- ' + shlex_quote(self.graves))
        os.makedirs(self.graves, exist_ok=True)
        self.mutex = threading.Lock()
        self.frozen = False
        self.grave_seq = 0
        # inode -> list of unsynced data operations, oldest first:
        #   ('w', offset, length, preimage bytes (the part inside the old size) or int n of zeros, old size)
        #   ('t', new size, old size, the bytes cut (bytes, int n of zeros, or None when it grew))
        self.undo = {}
        # pending directory operations, oldest first: dict(kind, ..., needs=set of parent directory inodes)
        self.journal = []
        self.stats = dict(writes=0, bytes_written=0, truncates=0, fsyncs=0, fsyncdirs=0, dirops=0, cuts=0, stalled_fsyncs=0)
        # A slow disk on demand: an fsync of a file whose name ends so waits (holding up every other request, as
        # FUSE runs one at a time) until the cut, which it then loses to.
        self.stall_suffix = None
        self.cut_done = threading.Event()

    # ---- plumbing --------------------------------------------------------------------------------------------

    def __call__(self, op, *args):
        with self.mutex:
            if self.frozen and op not in ('release', 'releasedir', 'destroy', 'flush'):
                raise FuseOSError(errno.EIO)
            if not hasattr(self, op):
                raise FuseOSError(errno.ENOSYS)
            try:
                return getattr(self, op)(*args)
            except OSError as e:
                if isinstance(e, FuseOSError):
                    raise
                raise FuseOSError(e.errno or errno.EIO)

    def full(self, path):
        return os.path.join(self.root, path.lstrip('/'))

    def parent_ino(self, path):
        return os.lstat(os.path.dirname(self.full(path))).st_ino

    def park(self, full_path):
        """Moves a file or directory to the graves instead of deleting it; returns where it went."""
        self.grave_seq += 1
        grave = os.path.join(self.graves, 'g%d' % self.grave_seq)
        os.rename(full_path, grave)
        return grave

    def journal_dirop(self, entry, needs):
        entry['needs'] = set(needs)
        self.journal.append(entry)
        self.stats['dirops'] += 1

    # ---- attributes and directories ----------------------------------------------------------------------------

    def getattr(self, path, fh=None):
        st = os.fstat(fh) if fh is not None else os.lstat(self.full(path))
        return dict(
            (k, getattr(st, k))
            for k in ('st_mode', 'st_ino', 'st_nlink', 'st_uid', 'st_gid', 'st_size', 'st_atime', 'st_mtime', 'st_ctime')
        ) | dict(st_atime=st.st_atime_ns, st_mtime=st.st_mtime_ns, st_ctime=st.st_ctime_ns, st_blocks=st.st_blocks)

    def access(self, path, amode):
        if not os.access(self.full(path), amode):
            raise FuseOSError(errno.EACCES)

    def readdir(self, path, fh):
        return ['.', '..'] + os.listdir(self.full(path))

    def opendir(self, path):
        return 0

    def releasedir(self, path, fh):
        return 0

    def fsyncdir(self, path, datasync, fh):
        ino = os.lstat(self.full(path)).st_ino
        self.stats['fsyncdirs'] += 1
        for e in self.journal:
            e['needs'].discard(ino)
        self.journal = [e for e in self.journal if e['needs']]

    def mkdir(self, path, mode):
        full = self.full(path)
        os.mkdir(full, mode)
        self.journal_dirop(dict(kind='mkdir', path=full, ino=os.lstat(full).st_ino), [self.parent_ino(path)])

    def rmdir(self, path):
        full = self.full(path)
        needs = [self.parent_ino(path)]
        if os.listdir(full):
            raise FuseOSError(errno.ENOTEMPTY)
        # Parked, not removed: a cut brings back the same inode, so undoing a rename into it still finds it.
        self.journal_dirop(dict(kind='rmdir', path=full, grave=self.park(full)), needs)

    def unlink(self, path):
        full = self.full(path)
        needs = [self.parent_ino(path)]
        self.journal_dirop(dict(kind='unlink', path=full, grave=self.park(full)), needs)

    def rename(self, old, new):
        src, dst = self.full(old), self.full(new)
        needs = [self.parent_ino(old), self.parent_ino(new)]
        replaced = None
        if os.path.lexists(dst):
            if os.path.isdir(dst) and os.listdir(dst):
                raise FuseOSError(errno.ENOTEMPTY)
            replaced = self.park(dst)
        os.rename(src, dst)
        self.journal_dirop(dict(kind='rename', src=src, dst=dst, ino=os.lstat(dst).st_ino, replaced=replaced), needs)

    def chmod(self, path, mode):
        os.chmod(self.full(path), mode)

    def chown(self, path, uid, gid):
        os.chown(self.full(path), uid, gid)

    def utimens(self, path, times=None):
        os.utime(self.full(path), ns=times) if times else os.utime(self.full(path))

    def statfs(self, path):
        sv = os.statvfs(self.full(path))
        return dict((k, getattr(sv, k)) for k in (
            'f_bavail', 'f_bfree', 'f_blocks', 'f_bsize', 'f_favail', 'f_ffree', 'f_files', 'f_flag', 'f_frsize', 'f_namemax'))

    def link(self, target, source):
        raise FuseOSError(errno.EPERM)

    def symlink(self, target, source):
        raise FuseOSError(errno.EPERM)

    # ---- files -------------------------------------------------------------------------------------------------

    def create(self, path, mode, fi=None):
        full = self.full(path)
        existed = os.path.lexists(full)
        fd = os.open(full, os.O_RDWR | os.O_CREAT, mode)
        if not existed:
            self.journal_dirop(dict(kind='create', path=full, ino=os.fstat(fd).st_ino), [self.parent_ino(path)])
        return fd

    def open(self, path, flags):
        # Always readable: a write must be able to read what it overwrites.
        mode = flags & ~(os.O_ACCMODE | os.O_CREAT | os.O_EXCL | os.O_TRUNC | os.O_APPEND) | os.O_RDWR
        fd = os.open(self.full(path), mode)
        if flags & os.O_TRUNC:
            self._truncate_fd(fd, 0)
        return fd

    def read(self, path, size, offset, fh):
        return os.pread(fh, size, offset)

    def write(self, path, data, offset, fh):
        st = os.fstat(fh)
        pre = os.pread(fh, len(data), offset) if offset < st.st_size else b''
        self.undo.setdefault(st.st_ino, []).append(('w', offset, len(data), len(pre) if is_zero(pre) else pre, st.st_size))
        n = os.pwrite(fh, data, offset)
        self.stats['writes'] += 1
        self.stats['bytes_written'] += n
        return n

    def _truncate_fd(self, fd, length):
        st = os.fstat(fd)
        if length == st.st_size:
            return
        cut = None
        if length < st.st_size:
            cut = os.pread(fd, st.st_size - length, length)
            if is_zero(cut):
                cut = len(cut)
        self.undo.setdefault(st.st_ino, []).append(('t', length, st.st_size, cut))
        os.ftruncate(fd, length)
        self.stats['truncates'] += 1

    def truncate(self, path, length, fh=None):
        if fh is not None:
            return self._truncate_fd(fh, length)
        fd = os.open(self.full(path), os.O_RDWR)
        try:
            self._truncate_fd(fd, length)
        finally:
            os.close(fd)

    def fsync(self, path, datasync, fh):
        if self.stall_suffix and path and path.endswith(self.stall_suffix):
            self.stats['stalled_fsyncs'] += 1
            self.mutex.release()
            try:
                self.cut_done.wait(60)
            finally:
                self.mutex.acquire()
            if self.frozen:
                raise FuseOSError(errno.EIO)
        self.stats['fsyncs'] += 1
        self.undo.pop(os.fstat(fh).st_ino, None)

    def flush(self, path, fh):
        return 0

    def release(self, path, fh):
        os.close(fh)

    # ---- the power cut -----------------------------------------------------------------------------------------

    def cut(self, torn, rng):
        """Forgets everything unsynced, as a power cut would; returns what was lost."""
        report = dict(files=0, data_ops_dropped=0, data_ops_kept=0, bytes_dropped=0, dirops_dropped=0, dirops_kept=0, torn=torn)
        self.frozen = True
        self.stats['cuts'] += 1
        paths = {}
        for top in (self.root, self.graves):
            for d, dirs, files in os.walk(top):
                for name in files:
                    p = os.path.join(d, name)
                    paths[os.lstat(p).st_ino] = p
        for ino, ops in self.undo.items():
            p = paths.get(ino)
            if p is None:
                continue
            report['files'] += 1
            keep = rng.randint(0, len(ops)) if torn else 0
            fd = os.open(p, os.O_RDWR)
            try:
                for i in range(len(ops) - 1, keep - 1, -1):
                    op = ops[i]
                    # The oldest undone write of a torn file may keep a prefix of its bytes.
                    prefix = rng.randint(0, op[2]) if torn and i == keep and op[0] == 'w' else 0
                    report['bytes_dropped'] += self._undo(fd, op, prefix)
                    report['data_ops_dropped'] += 1
                report['data_ops_kept'] += keep
            finally:
                os.close(fd)
        self.undo = {}
        keep = rng.randint(0, len(self.journal)) if torn else 0
        for e in reversed(self.journal[keep:]):
            self._revert(e)
            report['dirops_dropped'] += 1
        report['dirops_kept'] = keep
        self.journal = []
        self.cut_done.set()
        return report

    @staticmethod
    def _undo(fd, op, prefix):
        if op[0] == 'w':
            _, offset, length, pre, old_size = op
            pre_len = pre if isinstance(pre, int) else len(pre)
            if prefix < pre_len:
                os.pwrite(fd, bytes(pre_len - prefix) if isinstance(pre, int) else pre[prefix:], offset + prefix)
            os.ftruncate(fd, max(old_size, offset + prefix) if prefix else old_size)
            return length - prefix
        _, new_size, old_size, cut = op
        os.ftruncate(fd, old_size)
        if isinstance(cut, bytes):
            os.pwrite(fd, cut, new_size)
        return abs(old_size - new_size)

    def _revert(self, e):
        """Undoes one directory operation, best effort: later durable operations may have moved things on."""
        def ino_at(p):
            try:
                return os.lstat(p).st_ino
            except FileNotFoundError:
                return None

        kind = e['kind']
        if kind in ('create', 'mkdir'):
            if ino_at(e['path']) == e['ino']:
                self.park(e['path'])
        elif kind == 'unlink':
            if os.path.lexists(e['grave']) and os.path.isdir(os.path.dirname(e['path'])) and not os.path.lexists(e['path']):
                os.rename(e['grave'], e['path'])
        elif kind == 'rmdir':
            if os.path.isdir(e['grave']) and os.path.isdir(os.path.dirname(e['path'])) and not os.path.lexists(e['path']):
                os.rename(e['grave'], e['path'])
        elif kind == 'rename':
            if ino_at(e['dst']) == e['ino'] and os.path.isdir(os.path.dirname(e['src'])) and not os.path.lexists(e['src']):
                os.rename(e['dst'], e['src'])
            r = e['replaced']
            if r and os.path.lexists(r) and not os.path.lexists(e['dst']) and os.path.isdir(os.path.dirname(e['dst'])):
                os.rename(r, e['dst'])

    def pending(self):
        return dict(unsynced_files=len(self.undo), unsynced_data_ops=sum(len(v) for v in self.undo.values()),
                    pending_dirops=len(self.journal))


def shlex_quote(s):
    import shlex
    return shlex.quote(s)


def serve_control(fs, sock_path):
    if os.path.exists(sock_path):
        os.unlink(sock_path)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(sock_path)
    srv.listen(4)
    while True:
        conn, _ = srv.accept()
        # One request per connection: a line of JSON in, a line of JSON out, then the connection closes.
        with conn:
            f = conn.makefile('rwb')
            line = f.readline()
            try:
                req = json.loads(line)
                with fs.mutex:
                    if req.get('cmd') == 'cut':
                        answer = fs.cut(bool(req.get('torn')), random.Random(req.get('seed')))
                    elif req.get('cmd') == 'stall':
                        fs.stall_suffix = req.get('suffix') or None
                        answer = dict(stalling=fs.stall_suffix)
                    elif req.get('cmd') == 'stats':
                        answer = dict(fs.stats, **fs.pending())
                    else:
                        answer = dict(error='unknown command')
            except Exception as exc:  # answer the harness rather than die silently
                answer = dict(error=repr(exc))
            f.write((json.dumps(answer) + '\n').encode())
            f.close()  # the socket really closes only once its file object does: that is the client's end of answer


def main():
    if len(sys.argv) != 4:
        sys.stderr.write(__doc__)
        sys.exit(2)
    base, mountpoint, control = sys.argv[1:]
    fs = LazyFS(base)
    threading.Thread(target=serve_control, args=(fs, control), daemon=True).start()

    def init(path):
        sys.stdout.write('ready\n')
        sys.stdout.flush()

    fs.init = init
    FUSE(fs, mountpoint, foreground=True, nothreads=True, attr_timeout=0, entry_timeout=0, negative_timeout=0,
         big_writes=True, max_write=131072, use_ino=True, fsname='lazyfs')


if __name__ == '__main__':
    main()
