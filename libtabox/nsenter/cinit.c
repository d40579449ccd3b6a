// The container's init for the common case, in C: it sets the container up
// and executes the user's program without ever starting the Go runtime.
//
// A Go init costs a runtime start (threads, heap, page faults) on every
// container, and, being multithreaded, it can only be moved into the
// container's cgroup by a write of its pid to cgroup.procs, which waits for
// an RCU grace period whenever the cgroup lock has been idle (milliseconds).
// This init is one thread: on cgroup v1 it joins by writing "0" to each
// hierarchy's tasks file, which moves only the caller and skips that wait.
//
// tabox create sends it a compact configuration (encoded by cinit.go, the
// only reader of the container's config) instead of the JSON one; configs
// with anything this file does not do (hooks, terminals, idmapped mounts,
// process attributes, seccomp listeners, ...) go to the Go init, which does
// everything. The steps, their order and their errors are the Go init's
// (init.go, rootfs.go); paths inside the rootfs are resolved with openat2
// and RESOLVE_IN_ROOT, and mounts are made onto the resolved fds.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/keyctl.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

/* Not in every C library's headers (musl's). */
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#define CINIT_MAGIC 0x74626331u // "tbc1"

enum { KIND_FS = 0, KIND_BIND = 1, KIND_CGROUP = 2 };

static int cfd = -1; // the sync socket
static const char *cur_step = "init";
static char errbuf[4096];

// --- errors ------------------------------------------------------------

// appendf appends to the string of len bytes in buf (size n), clamped:
// what does not fit is cut off, and the result is always terminated.
static size_t __attribute__((format(printf, 4, 5))) appendf(char *buf, size_t n, size_t len, const char *fmt, ...)
{
	if (len >= n)
		return n - 1;
	va_list ap;
	va_start(ap, fmt);
	int w = vsnprintf(buf + len, n - len, fmt, ap);
	va_end(ap);
	if (w < 0)
		return len;
	len += (size_t)w;
	return len >= n ? n - 1 : len;
}

// json_put appends s to the JSON string being built in out, escaped.
static size_t json_put(char *out, size_t n, size_t len, const char *s)
{
	for (; *s != '\0' && len + 16 < n; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			out[len++] = '\\';
			out[len++] = (char)c;
		} else if (c < 0x20) {
			len = appendf(out, n, len, "\\u%04x", c);
		} else {
			out[len++] = (char)c;
		}
	}
	out[len] = '\0';
	return len;
}

// die reports the failed step to tabox create (stderr if it is gone) and
// exits, as the Go init does.
static void __attribute__((noreturn)) die(void)
{
	char msg[8192];
	// The message is cut to leave room for the JSON's closing characters.
	const size_t room = sizeof(msg) - 8;
	size_t len = appendf(msg, room, 0, "{\"type\":\"error\",\"error\":{\"step\":\"");
	len = json_put(msg, room, len, cur_step);
	len = appendf(msg, room, len, "\",\"message\":\"");
	len = json_put(msg, room, len, errbuf);
	len = appendf(msg, sizeof(msg), len, "\"}}\n");
	if (cfd < 0 || write(cfd, msg, len) != (ssize_t)len)
		dprintf(2, "tabox init: %s: %s\n", cur_step, errbuf);
	_exit(255);
}

// errstr is strerror in the words Go's syscall package uses (lower case),
// so that both inits report the same text.
static const char *errstr(int err)
{
	static char buf[128];
	snprintf(buf, sizeof(buf), "%s", strerror(err));
	if (buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z'))
		buf[0] = (char)(buf[0] - 'A' + 'a');
	return buf;
}

// fail sets the error message (printf-style) and returns -1.
static int __attribute__((format(printf, 1, 2))) fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(errbuf, sizeof(errbuf), fmt, ap);
	va_end(ap);
	return -1;
}

// failerr is fail with ": <errno text>" appended.
#define failerr(fmt, ...) fail(fmt ": %s", ##__VA_ARGS__, errstr(errno))

static void step(const char *name, int rc)
{
	cur_step = name;
	if (rc < 0)
		die();
}

// --- the configuration ---------------------------------------------------

struct rd {
	char *p, *end;
};

static void bad_config(void)
{
	cur_step = "init";
	fail("bad configuration from tabox");
	die();
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);
	if (p == NULL) {
		cur_step = "init";
		fail("out of memory");
		die();
	}
	return p;
}

static uint64_t rd_n(struct rd *r, int size)
{
	uint64_t v = 0;
	if (r->end - r->p < size)
		bad_config();
	memcpy(&v, r->p, (size_t)size); // little-endian hosts only (x86, arm64)
	r->p += size;
	return v;
}
#define rd_u8(r) ((uint8_t)rd_n(r, 1))
#define rd_u32(r) ((uint32_t)rd_n(r, 4))
#define rd_u64(r) (rd_n(r, 8))

// rd_str returns a string of the buffer; the encoder ends each with a NUL.
static char *rd_str(struct rd *r)
{
	uint32_t n = rd_u32(r);
	if ((uint64_t)(r->end - r->p) < (uint64_t)n + 1 || r->p[n] != '\0' || memchr(r->p, '\0', n) != NULL)
		bad_config();
	char *s = r->p;
	r->p += n + 1;
	return s;
}

static char **rd_strs(struct rd *r, uint32_t *count)
{
	uint32_t n = rd_u32(r);
	if (n > 1u << 20)
		bad_config();
	char **v = xcalloc(n + 1, sizeof(char *));
	if (v == NULL)
		bad_config();
	for (uint32_t i = 0; i < n; i++)
		v[i] = rd_str(r);
	if (count != NULL)
		*count = n;
	return v;
}

struct cmount {
	uint8_t kind;
	char *source, *dest, *type, *data;
	uint64_t flags, clear;
	uint32_t nprop;
	uint64_t *prop;
};

struct cdevice {
	char *path;
	uint32_t mode, major, minor, uid, gid;
};

struct cgbind {
	char *name, *source;
};

struct crlimit {
	uint32_t resource;
	uint64_t soft, hard;
	char *name;
};

struct config {
	// exec: the process of tabox exec, in the container's namespaces
	// already, rather than a container's init.
	uint8_t exec;
	uint32_t ntask_fds;
	int *task_fds; // exec: tasks files tabox opened, to write "0" to
	char *id;
	uint8_t join_keyring;
	uint32_t close_from;
	char *fifo;
	char *rootfs;
	uint64_t root_prop;
	uint8_t readonly_root;
	uint8_t userns;
	uint8_t clear_ambient;
	uint32_t nmounts;
	struct cmount *mounts;
	// The cgroup mount: on v1 a tmpfs with the container's directories
	// bound in (cg_binds); on v2 cg_v2src bound, or a new cgroup2.
	uint8_t cg_v2;
	char *cg_v2src;
	uint32_t ncg;
	struct cgbind *cg;
	uint8_t skip_dev;
	uint32_t ndev;
	struct cdevice *dev;
	char *hostname, *domainname;
	char **masked, **readonly;
	char **tasks; // cgroup v1 tasks files to write "0" to
	uint8_t cgroup_wait;
	char *cpu_file;
	uint8_t cpu_is_stat;
	char *cwd;
	char **args, **env;
	uint32_t uid, gid, ngroups;
	gid_t *groups;
	uint8_t has_umask;
	uint32_t umask;
	uint8_t nnp;
	uint8_t has_caps;
	uint64_t cap_eff, cap_perm, cap_inh, cap_amb, cap_bnd;
	uint32_t cap_last;
	// self_ready: the init sets its rlimits itself and does not ask tabox
	// with "ready", which then sends "ready-done" (exec) or "saved" (a
	// container run starts) when it is ready itself.
	uint8_t self_ready;
	uint32_t nrlimits;
	struct crlimit *rlimits;
	uint32_t bpf_len; // in sock_filter entries
	struct sock_filter *bpf;
	uint32_t bpf_flags;
};

static void read_config(struct config *c)
{
	uint32_t hdr[2];
	char *p = (char *)hdr;
	size_t got = 0;
	while (got < sizeof(hdr)) {
		ssize_t n = read(cfd, p + got, sizeof(hdr) - got);
		if (n <= 0)
			_exit(255); // tabox create is gone, as in the Go init
		got += (size_t)n;
	}
	if (hdr[0] != CINIT_MAGIC || hdr[1] > 64u << 20)
		bad_config();
	char *buf = xcalloc(1, hdr[1] + 1);
	for (got = 0; got < hdr[1];) {
		ssize_t n = read(cfd, buf + got, hdr[1] - got);
		if (n <= 0)
			_exit(255);
		got += (size_t)n;
	}
	struct rd r = {buf, buf + hdr[1]};

	c->exec = rd_u8(&r);
	c->ntask_fds = rd_u32(&r);
	if (c->ntask_fds > 64)
		bad_config();
	c->task_fds = xcalloc(c->ntask_fds + 1, sizeof(int));
	for (uint32_t i = 0; i < c->ntask_fds; i++)
		c->task_fds[i] = (int)rd_u32(&r);
	c->id = rd_str(&r);
	c->join_keyring = rd_u8(&r);
	c->close_from = rd_u32(&r);
	c->fifo = rd_str(&r);
	c->rootfs = rd_str(&r);
	c->root_prop = rd_u64(&r);
	c->readonly_root = rd_u8(&r);
	c->userns = rd_u8(&r);
	c->clear_ambient = rd_u8(&r);
	c->nmounts = rd_u32(&r);
	if (c->nmounts > 1u << 16)
		bad_config();
	c->mounts = xcalloc(c->nmounts + 1, sizeof(struct cmount));
	for (uint32_t i = 0; i < c->nmounts; i++) {
		struct cmount *m = &c->mounts[i];
		m->kind = rd_u8(&r);
		m->source = rd_str(&r);
		m->dest = rd_str(&r);
		m->type = rd_str(&r);
		m->data = rd_str(&r);
		m->flags = rd_u64(&r);
		m->clear = rd_u64(&r);
		m->nprop = rd_u32(&r);
		if (m->nprop > 64)
			bad_config();
		m->prop = xcalloc(m->nprop + 1, sizeof(uint64_t));
		for (uint32_t j = 0; j < m->nprop; j++)
			m->prop[j] = rd_u64(&r);
	}
	c->cg_v2 = rd_u8(&r);
	c->cg_v2src = rd_str(&r);
	c->ncg = rd_u32(&r);
	if (c->ncg > 256)
		bad_config();
	c->cg = xcalloc(c->ncg + 1, sizeof(struct cgbind));
	for (uint32_t i = 0; i < c->ncg; i++) {
		c->cg[i].name = rd_str(&r);
		c->cg[i].source = rd_str(&r);
	}
	c->skip_dev = rd_u8(&r);
	c->ndev = rd_u32(&r);
	if (c->ndev > 1u << 16)
		bad_config();
	c->dev = xcalloc(c->ndev + 1, sizeof(struct cdevice));
	for (uint32_t i = 0; i < c->ndev; i++) {
		struct cdevice *d = &c->dev[i];
		d->path = rd_str(&r);
		d->mode = rd_u32(&r);
		d->major = rd_u32(&r);
		d->minor = rd_u32(&r);
		d->uid = rd_u32(&r);
		d->gid = rd_u32(&r);
	}
	c->hostname = rd_str(&r);
	c->domainname = rd_str(&r);
	c->masked = rd_strs(&r, NULL);
	c->readonly = rd_strs(&r, NULL);
	c->tasks = rd_strs(&r, NULL);
	c->cgroup_wait = rd_u8(&r);
	c->cpu_file = rd_str(&r);
	c->cpu_is_stat = rd_u8(&r);
	c->cwd = rd_str(&r);
	c->args = rd_strs(&r, NULL);
	c->env = rd_strs(&r, NULL);
	c->uid = rd_u32(&r);
	c->gid = rd_u32(&r);
	c->ngroups = rd_u32(&r);
	if (c->ngroups > 65536)
		bad_config();
	c->groups = xcalloc(c->ngroups + 1, sizeof(gid_t));
	for (uint32_t i = 0; i < c->ngroups; i++)
		c->groups[i] = rd_u32(&r);
	c->has_umask = rd_u8(&r);
	c->umask = rd_u32(&r);
	c->nnp = rd_u8(&r);
	c->has_caps = rd_u8(&r);
	c->cap_eff = rd_u64(&r);
	c->cap_perm = rd_u64(&r);
	c->cap_inh = rd_u64(&r);
	c->cap_amb = rd_u64(&r);
	c->cap_bnd = rd_u64(&r);
	c->cap_last = rd_u32(&r);
	c->self_ready = rd_u8(&r);
	c->nrlimits = rd_u32(&r);
	if (c->nrlimits > 64)
		bad_config();
	c->rlimits = xcalloc(c->nrlimits + 1, sizeof(struct crlimit));
	for (uint32_t i = 0; i < c->nrlimits; i++) {
		struct crlimit *l = &c->rlimits[i];
		l->resource = rd_u32(&r);
		l->soft = rd_u64(&r);
		l->hard = rd_u64(&r);
		l->name = rd_str(&r);
	}
	c->bpf_flags = rd_u32(&r);
	uint32_t nbytes = rd_u32(&r);
	if (nbytes % sizeof(struct sock_filter) != 0 || (uint64_t)(r.end - r.p) < nbytes)
		bad_config();
	c->bpf_len = nbytes / sizeof(struct sock_filter);
	if (c->bpf_len > BPF_MAXINSNS)
		bad_config();
	if (c->bpf_len > 0) {
		// Aligned for the kernel's copy, whatever the offset in buf.
		c->bpf = xcalloc(1, nbytes);
		memcpy(c->bpf, r.p, nbytes);
	}
	r.p += nbytes;
	if (rd_u32(&r) != CINIT_MAGIC || r.p != r.end)
		bad_config();
}

// --- the sync socket -------------------------------------------------------

static int send_msg(const char *type)
{
	char msg[64];
	int n = snprintf(msg, sizeof(msg), "{\"type\":\"%s\"}\n", type);
	if (write(cfd, msg, (size_t)n) != n)
		return failerr("send %s to tabox", type);
	return 0;
}

// expect reads one message (a line) from tabox and checks its type; the
// state JSON it may carry, of any length, is only for hooks, which this
// init never runs: only the start of the line is kept. tabox sends nothing
// more until the init answers, so nothing past the newline is read.
static int expect(const char *type)
{
	char want[64], head[64], buf[4096];
	size_t have = 0;
	snprintf(want, sizeof(want), "{\"type\":\"%s\"", type);
	for (;;) {
		ssize_t n = read(cfd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return failerr("waiting for tabox");
		if (n == 0)
			return fail("waiting for tabox: EOF");
		size_t take = (size_t)n;
		if (take > sizeof(head) - 1 - have)
			take = sizeof(head) - 1 - have;
		memcpy(head + have, buf, take);
		have += take;
		if (memchr(buf, '\n', (size_t)n) != NULL)
			break;
	}
	head[have] = '\0';
	if (strncmp(head, want, strlen(want)) != 0)
		return fail("waiting for tabox: got %.60s, want %s", head, type);
	return 0;
}

static int round_trip(const char *msg, const char *reply)
{
	cur_step = msg;
	if (send_msg(msg) < 0 || expect(reply) < 0)
		return -1;
	return 0;
}

// --- paths inside the rootfs ---------------------------------------------

static int root_fd = -1;
static int devnull_fd = -1;

// openat2 with RESOLVE_IN_ROOT: symlinks and ".." of the image stay in it.
static int open_in_root(const char *path, uint64_t flags)
{
	struct open_how how = {
		.flags = flags | O_PATH | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	// EAGAIN: a rename raced the lookup; a few more tries, not forever.
	for (int tries = 0;; tries++) {
		int fd = (int)syscall(SYS_openat2, root_fd, path, &how, sizeof(how));
		if (fd < 0 && (errno == EINTR || (errno == EAGAIN && tries < 128)))
			continue;
		return fd;
	}
}

static char fdpath_buf[4][64];
static int fdpath_slot;

static const char *fdpath(int fd)
{
	char *b = fdpath_buf[fdpath_slot++ % 4];
	snprintf(b, 64, "/proc/self/fd/%d", fd);
	return b;
}

// clean_path makes path absolute and lexically clean, ".." stopping at
// the root, into out (PATH_MAX).
static int clean_path(const char *path, char *out)
{
	size_t len = 0;
	const char *p = path;
	out[0] = '\0';
	while (*p != '\0') {
		while (*p == '/')
			p++;
		const char *e = p;
		while (*e != '\0' && *e != '/')
			e++;
		size_t n = (size_t)(e - p);
		if (n == 0)
			break;
		if (n == 1 && p[0] == '.') {
			// nothing
		} else if (n == 2 && p[0] == '.' && p[1] == '.') {
			while (len > 0 && out[len - 1] != '/')
				len--;
			if (len > 0)
				len--;
			out[len] = '\0';
		} else {
			if (len + n + 2 >= PATH_MAX) {
				errno = ENAMETOOLONG;
				return -1;
			}
			out[len++] = '/';
			memcpy(out + len, p, n);
			len += n;
			out[len] = '\0';
		}
		p = e;
	}
	if (len == 0) {
		out[0] = '/';
		out[1] = '\0';
	}
	return 0;
}

// mkdir_in creates path (and its parents) inside the rootfs and returns
// an O_PATH fd of it. Each missing component is made in the directory its
// parent resolved to, then the prefix is resolved again in the root: a
// symlink raced in can neither lead out nor be mounted on.
static int mkdir_in(const char *path)
{
	char clean[PATH_MAX];
	if (clean_path(path, clean) < 0)
		return failerr("%s", path);
	int fd = open_in_root(clean, O_DIRECTORY);
	if (fd >= 0 || errno != ENOENT) {
		if (fd < 0)
			return failerr("open %s", clean);
		return fd;
	}
	int dir = open_in_root("/", O_DIRECTORY);
	if (dir < 0)
		return failerr("open rootfs");
	char *p = clean;
	while (*p == '/')
		p++;
	while (*p != '\0') {
		char *e = strchr(p, '/');
		char saved = '\0';
		if (e != NULL) {
			saved = *e;
			*e = '\0';
		}
		int next = open_in_root(clean, O_DIRECTORY);
		if (next < 0 && errno == ENOENT) {
			if (mkdirat(dir, p, 0755) < 0 && errno != EEXIST) {
				int err = errno;
				close(dir);
				errno = err;
				return failerr("mkdir %s", clean);
			}
			next = open_in_root(clean, O_DIRECTORY);
		}
		if (next < 0) {
			int err = errno;
			close(dir);
			errno = err;
			return failerr("open %s", clean);
		}
		close(dir);
		dir = next;
		if (e == NULL)
			break;
		*e = saved;
		p = e + 1;
	}
	return dir;
}

// split_dir puts the directory part of clean path in dir and returns the
// last component.
static const char *split_dir(const char *clean, char *dir)
{
	const char *slash = strrchr(clean, '/');
	size_t n = (size_t)(slash - clean);
	memcpy(dir, clean, n);
	dir[n] = '\0';
	if (n == 0)
		strcpy(dir, "/");
	return slash + 1;
}

// create_file_in makes an empty file at path unless something is there,
// and returns an O_PATH fd of what is there.
static int create_file_in(const char *path)
{
	char clean[PATH_MAX], dirpath[PATH_MAX];
	if (clean_path(path, clean) < 0)
		return failerr("%s", path);
	int fd = open_in_root(clean, 0);
	if (fd >= 0)
		return fd;
	if (strcmp(clean, "/") == 0)
		return failerr("open /");
	const char *base = split_dir(clean, dirpath);
	int dir = mkdir_in(dirpath);
	if (dir < 0)
		return -1;
	// O_PATH dirs cannot be used for openat(O_CREAT): reopen it.
	int rdir = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	close(dir);
	if (rdir < 0)
		return failerr("open %s", dirpath);
	int f = openat(rdir, base, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
	int err = errno;
	close(rdir);
	if (f < 0 && err != EEXIST) {
		errno = err;
		return failerr("create %s", clean);
	}
	if (f >= 0)
		close(f);
	fd = open_in_root(clean, 0);
	if (fd < 0)
		return failerr("open %s", clean);
	return fd;
}

// --- mounts --------------------------------------------------------------

static const struct {
	unsigned long flag;
	const char *name;
} flag_names[] = {
	{MS_RDONLY, "MS_RDONLY"}, {MS_NOSUID, "MS_NOSUID"}, {MS_NODEV, "MS_NODEV"},
	{MS_NOEXEC, "MS_NOEXEC"}, {MS_SYNCHRONOUS, "MS_SYNCHRONOUS"}, {MS_REMOUNT, "MS_REMOUNT"},
	{MS_MANDLOCK, "MS_MANDLOCK"}, {MS_DIRSYNC, "MS_DIRSYNC"}, {MS_NOATIME, "MS_NOATIME"},
	{MS_NODIRATIME, "MS_NODIRATIME"}, {MS_BIND, "MS_BIND"}, {MS_MOVE, "MS_MOVE"},
	{MS_REC, "MS_REC"}, {MS_SILENT, "MS_SILENT"}, {MS_UNBINDABLE, "MS_UNBINDABLE"},
	{MS_PRIVATE, "MS_PRIVATE"}, {MS_SLAVE, "MS_SLAVE"}, {MS_SHARED, "MS_SHARED"},
	{MS_RELATIME, "MS_RELATIME"}, {MS_STRICTATIME, "MS_STRICTATIME"}, {MS_LAZYTIME, "MS_LAZYTIME"},
};

// do_mount is mount(2) with the Go init's error text.
static int do_mount(const char *src, const char *dst, const char *type, unsigned long flags, const char *data)
{
	while (mount(src, dst, type, flags, data) < 0) {
		if (errno == EINTR)
			continue;
		int err = errno;
		char f[512] = "";
		size_t len = 0;
		unsigned long left = flags;
		for (size_t i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++) {
			if (left & flag_names[i].flag) {
				len = appendf(f, sizeof(f), len, "%s%s", len ? "|" : "", flag_names[i].name);
				left &= ~flag_names[i].flag;
			}
		}
		if (left)
			appendf(f, sizeof(f), len, "%s%#lx", len ? "|" : "", left);
		char head[2048] = "mount";
		size_t h = 5;
		if (src != NULL && *src != '\0')
			h = appendf(head, sizeof(head), h, " %s", src);
		h = appendf(head, sizeof(head), h, " on %s", dst);
		if (type != NULL && *type != '\0')
			h = appendf(head, sizeof(head), h, " type %s", type);
		if (flags)
			h = appendf(head, sizeof(head), h, " flags %s", f);
		if (data != NULL && *data != '\0')
			appendf(head, sizeof(head), h, " data \"%s\"", data);
		errno = err;
		return failerr("%s", head);
	}
	return 0;
}

// locked_flags are the flags of the mount fd is on that a remount in a
// user namespace must keep.
static unsigned long locked_flags(int fd)
{
	struct statfs st;
	if (fstatfs(fd, &st) < 0)
		return 0;
	unsigned long f = 0;
	if (st.f_flags & ST_RDONLY)
		f |= MS_RDONLY;
	if (st.f_flags & ST_NOSUID)
		f |= MS_NOSUID;
	if (st.f_flags & ST_NODEV)
		f |= MS_NODEV;
	if (st.f_flags & ST_NOEXEC)
		f |= MS_NOEXEC;
	if (st.f_flags & ST_NOATIME)
		f |= MS_NOATIME;
	if (st.f_flags & ST_NODIRATIME)
		f |= MS_NODIRATIME;
	if (st.f_flags & ST_RELATIME)
		f |= MS_RELATIME;
	return f;
}

static int remount(const char *path, unsigned long flags, unsigned long clear)
{
	int top = open_in_root(path, 0);
	if (top < 0)
		return failerr("open %s", path);
	flags |= locked_flags(top) & ~clear;
	int rc = do_mount("", fdpath(top), "", MS_BIND | MS_REMOUNT | flags, "");
	close(top);
	return rc;
}

static int propagate(const struct cmount *m)
{
	if (m->nprop == 0)
		return 0;
	int top = open_in_root(m->dest, 0);
	if (top < 0)
		return failerr("open %s", m->dest);
	for (uint32_t i = 0; i < m->nprop; i++) {
		if (do_mount("", fdpath(top), "", (unsigned long)m->prop[i], "") < 0) {
			close(top);
			return -1;
		}
	}
	close(top);
	return 0;
}

// ms_attrs turns the per-mount MS_* flags into MOUNT_ATTR_* ones.
static uint64_t ms_attrs(unsigned long f)
{
	uint64_t a = 0;
	if (f & MS_RDONLY)
		a |= MOUNT_ATTR_RDONLY;
	if (f & MS_NOSUID)
		a |= MOUNT_ATTR_NOSUID;
	if (f & MS_NODEV)
		a |= MOUNT_ATTR_NODEV;
	if (f & MS_NOEXEC)
		a |= MOUNT_ATTR_NOEXEC;
	if (f & MS_NODIRATIME)
		a |= MOUNT_ATTR_NODIRATIME;
	return a;
}

// set_tree_attrs sets the flags set and clears clr on the mount tree (its
// top, or every mount of it with recursive): what a bind remount does,
// but on the tree's fd rather than on a path looked up again.
static int set_tree_attrs(int tree, const char *what, unsigned long set, unsigned long clr, int recursive)
{
	struct mount_attr a = {.attr_set = ms_attrs(set), .attr_clr = ms_attrs(clr) & ~ms_attrs(set)};
	if (set & (MS_NOATIME | MS_RELATIME | MS_STRICTATIME)) {
		a.attr_clr |= MOUNT_ATTR__ATIME;
		a.attr_set |= (set & MS_NOATIME) ? MOUNT_ATTR_NOATIME : (set & MS_STRICTATIME) ? MOUNT_ATTR_STRICTATIME : MOUNT_ATTR_RELATIME;
	}
	if (a.attr_set == 0 && a.attr_clr == 0)
		return 0;
	int rc;
	do
		rc = (int)syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &a, sizeof(a));
	while (rc < 0 && errno == EINTR);
	if (rc < 0)
		return failerr("mount_setattr %s%s", what, recursive ? " recursively" : "");
	return 0;
}

// attach moves the detached tree onto the file or directory dst refers to.
static int attach(int tree, int dst, const char *what)
{
	int rc;
	do
		rc = (int)syscall(SYS_move_mount, tree, "", dst, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
	while (rc < 0 && errno == EINTR);
	if (rc < 0)
		return failerr("move_mount %s", what);
	return 0;
}

// bind_mount binds the host path m->source at m->dest with the mount's
// flags. The copy of the source is made detached (open_tree), its flags set
// on it (and ro, nosuid, nodev, noexec on every submount of a recursive
// bind, CVE-2023-25809), then attached onto the resolved destination:
// nothing is looked up again by path once the destination is resolved, so
// a rename raced in cannot make the flags land on another mount.
static int bind_mount(const struct cmount *m)
{
	struct stat st;
	if (stat(m->source, &st) < 0)
		return failerr("bind source: stat %s", m->source);
	int dst = S_ISDIR(st.st_mode) ? mkdir_in(m->dest) : create_file_in(m->dest);
	if (dst < 0)
		return -1;
	int rec = (m->flags & MS_REC) != 0;
	int tree = (int)syscall(SYS_open_tree, AT_FDCWD, m->source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (rec ? AT_RECURSIVE : 0));
	if (tree < 0) {
		int rc = failerr("open_tree %s", m->source);
		close(dst);
		return rc;
	}
	unsigned long extra = m->flags & ~(unsigned long)(MS_BIND | MS_REC | MS_REMOUNT);
	int rc = set_tree_attrs(tree, m->dest, extra, m->clear, 0);
	if (rc == 0 && rec)
		rc = set_tree_attrs(tree, m->dest, extra & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC), 0, 1);
	if (rc == 0)
		rc = attach(tree, dst, m->dest);
	close(dst);
	// Attached, the tree's fd is the new mount: propagation goes there.
	for (uint32_t i = 0; rc == 0 && i < m->nprop; i++)
		rc = do_mount("", fdpath(tree), "", (unsigned long)m->prop[i], "");
	close(tree);
	return rc;
}

static int bind_path(const char *src, const char *dst, unsigned long flags)
{
	struct cmount b = {.kind = KIND_BIND, .source = (char *)src, .dest = (char *)dst, .flags = MS_BIND | flags};
	return bind_mount(&b);
}

// The cgroup's files, which tabox create opens (a container in a user
// namespace could not) and sends with the byte that says the cgroup is
// made: the tasks file of each v1 hierarchy, then the CPU usage file when
// the config names one.
static int cgroup_waited;
static int *tasks_fds; // ends with -1
static int cpu_fd = -1;

// wait_cgroup waits, once, for tabox create to make the cgroup: it does
// while the init mounts.
static int wait_cgroup(struct config *c)
{
	if (cgroup_waited)
		return 0;
	cgroup_waited = 1;
	size_t ntasks = 0;
	while (c->tasks[ntasks] != NULL)
		ntasks++;
	size_t want = ntasks + (*c->cpu_file != '\0');
	if (want > 64)
		return fail("too many cgroup files");
	char b;
	union {
		char buf[CMSG_SPACE(64 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {.iov_base = &b, .iov_len = 1};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
	ssize_t n;
	do
		n = recvmsg(cfd, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return failerr("waiting for tabox");
	if (n == 0 || b != 'G')
		return fail("waiting for tabox: no cgroup");
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	size_t got = 0;
	int *fds = NULL;
	if (cm != NULL && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
		got = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		fds = (int *)CMSG_DATA(cm);
	}
	if (got != want || (msg.msg_flags & MSG_CTRUNC))
		return fail("waiting for tabox: %zu cgroup files, want %zu", got, want);
	tasks_fds = xcalloc(ntasks + 1, sizeof(int));
	size_t i = 0;
	for (; i < ntasks; i++)
		memcpy(&tasks_fds[i], &fds[i], sizeof(int));
	tasks_fds[ntasks] = -1;
	if (*c->cpu_file != '\0')
		memcpy(&cpu_fd, &fds[i++], sizeof(int));
	return 0;
}

// bind_cgroup binds the host's cgroup directory src at name in the cgroup
// tmpfs top (at dest), with the mount's flags.
static int bind_cgroup(int top, const char *dest, const char *name, const char *src, unsigned long flags)
{
	if (*name == '\0' || strchr(name, '/') != NULL || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return fail("%s: bad hierarchy name %s", dest, name);
	if (mkdirat(top, name, 0755) < 0 && errno != EEXIST)
		return failerr("mkdir %s/%s", dest, name);
	int dst = openat(top, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dst < 0)
		return failerr("open %s/%s", dest, name);
	int tree = (int)syscall(SYS_open_tree, AT_FDCWD, src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (tree < 0) {
		int rc = failerr("open_tree %s", src);
		close(dst);
		return rc;
	}
	int rc = set_tree_attrs(tree, name, flags, 0, 0);
	if (rc == 0)
		rc = attach(tree, dst, name);
	close(tree);
	close(dst);
	return rc;
}

static int mount_cgroup(struct config *c, const struct cmount *m)
{
	if (c->cgroup_wait && wait_cgroup(c) < 0)
		return -1;
	int dst = mkdir_in(m->dest);
	if (dst < 0)
		return -1;
	unsigned long flags = m->flags & ~(unsigned long)(MS_BIND | MS_REC | MS_REMOUNT);
	int rc;
	if (c->cg_v2) {
		close(dst);
		if (*c->cg_v2src != '\0')
			return bind_path(c->cg_v2src, m->dest, flags);
		dst = mkdir_in(m->dest);
		if (dst < 0)
			return -1;
		rc = do_mount("cgroup", fdpath(dst), "cgroup2", flags, "");
		close(dst);
		return rc;
	}
	rc = do_mount("tmpfs", fdpath(dst), "tmpfs", flags & ~(unsigned long)MS_RDONLY, "mode=755");
	close(dst);
	if (rc < 0)
		return -1;
	// The tmpfs is new, and nothing of the container runs yet: each
	// hierarchy's directory is made in it by name, rather than resolved
	// from the rootfs again, component by component.
	int top = open_in_root(m->dest, O_DIRECTORY);
	if (top < 0)
		return failerr("open %s", m->dest);
	rc = 0;
	for (uint32_t i = 0; rc == 0 && i < c->ncg; i++)
		rc = bind_cgroup(top, m->dest, c->cg[i].name, c->cg[i].source, flags);
	close(top);
	if (rc < 0)
		return -1;
	if (flags & MS_RDONLY)
		return remount(m->dest, flags, 0);
	return 0;
}

static int mount_one(struct config *c, const struct cmount *m)
{
	if (m->kind == KIND_BIND)
		return bind_mount(m);
	if (m->kind == KIND_CGROUP)
		return mount_cgroup(c, m);
	int dst = mkdir_in(m->dest);
	if (dst < 0)
		return -1;
	unsigned long flags = m->flags & ~(unsigned long)(MS_BIND | MS_REC | MS_REMOUNT);
	int rc = do_mount(m->source, fdpath(dst), m->type, flags, m->data);
	close(dst);
	if (rc < 0) {
		// A sysfs cannot be mounted by a user namespace that does not own
		// the network namespace: bind the host's instead, as runc does.
		if (strcmp(m->type, "sysfs") == 0 && errno == EPERM && c->userns) {
			struct cmount b = {.kind = KIND_BIND, .source = "/sys", .dest = m->dest,
					   .flags = m->flags | MS_BIND | MS_REC, .clear = m->clear};
			return bind_mount(&b);
		}
		return -1;
	}
	return propagate(m);
}

static int mount_all(struct config *c)
{
	for (uint32_t i = 0; i < c->nmounts; i++) {
		if (mount_one(c, &c->mounts[i]) < 0) {
			char inner[sizeof(errbuf)];
			memcpy(inner, errbuf, sizeof(inner));
			return fail("mount %s: %s", c->mounts[i].dest, inner);
		}
	}
	return 0;
}

// --- rootfs ----------------------------------------------------------------

// unescape_mountinfo undoes the octal escapes (\040) of a mountinfo field.
static void unescape_mountinfo(char *s)
{
	char *w = s;
	for (char *r = s; *r != '\0'; r++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '7' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 3;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

static int is_parent_path(const char *mp, const char *path)
{
	size_t n = strlen(mp);
	if (strcmp(mp, "/") == 0)
		return 1;
	return strncmp(path, mp, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

// make_parent_private makes the mount holding the rootfs private when it
// is shared: pivot_root refuses a new root whose parent mount is shared.
static int make_parent_private(const char *rootfs)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (f == NULL)
		return failerr("read mountinfo");
	char *line = NULL, best[PATH_MAX] = "";
	size_t cap = 0, bestlen = 0;
	int shared = 0;
	while (getline(&line, &cap, f) > 0) {
		// id parent maj:min root mountpoint options [optional...] - ...
		char *save, *fld[6];
		int i = 0;
		for (char *t = strtok_r(line, " ", &save); t != NULL; t = i < 6 ? strtok_r(NULL, " ", &save) : NULL)
			fld[i++] = t;
		if (i < 6)
			continue;
		unescape_mountinfo(fld[4]);
		if (!is_parent_path(fld[4], rootfs) || (strlen(fld[4]) < bestlen && bestlen > 0))
			continue;
		if (strlen(fld[4]) == bestlen && bestlen > 0 && strcmp(fld[4], best) != 0)
			continue;
		snprintf(best, sizeof(best), "%s", fld[4]);
		bestlen = strlen(best);
		shared = 0;
		for (char *t = strtok_r(NULL, " ", &save); t != NULL && strcmp(t, "-") != 0; t = strtok_r(NULL, " ", &save))
			if (strncmp(t, "shared:", 7) == 0)
				shared = 1;
	}
	free(line);
	fclose(f);
	if (bestlen == 0 || !shared)
		return 0;
	if (do_mount("", best, "", MS_PRIVATE, "") < 0) {
		char inner[sizeof(errbuf)];
		memcpy(inner, errbuf, sizeof(inner));
		return fail("make rootfs parent mount private: %s", inner);
	}
	return 0;
}

static int prepare_rootfs(struct config *c)
{
	unsigned long prop = c->root_prop ? (unsigned long)c->root_prop : MS_SLAVE | MS_REC;
	if (mount("", "/", "", prop, "") < 0)
		return failerr("set rootfs propagation: mount on / flags %#lx", prop);
	// After a recursive change to slave, private or unbindable no mount
	// is shared, and mountinfo need not be read.
	int none_shared = (prop & MS_REC) && (prop & (MS_SLAVE | MS_PRIVATE | MS_UNBINDABLE)) && !(prop & MS_SHARED);
	if (!none_shared && make_parent_private(c->rootfs) < 0)
		return -1;
	if (mount(c->rootfs, c->rootfs, "", MS_BIND | MS_REC, "") < 0)
		return failerr("bind rootfs: mount %s on %s flags MS_BIND|MS_REC", c->rootfs, c->rootfs);
	root_fd = open(c->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0)
		return failerr("open rootfs");
	devnull_fd = open("/dev/null", O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (devnull_fd < 0)
		return failerr("open /dev/null");
	struct stat st;
	if (fstat(devnull_fd, &st) < 0 || !S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3))
		return fail("/dev/null is not the null device");
	return 0;
}

// --- devices -------------------------------------------------------------

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif

// chmod_nofollow changes the mode of name in dir, never through a symlink
// raced in its place (this runs before pivot_root, where a symlink would
// lead to the host): fchmodat2 with AT_SYMLINK_NOFOLLOW (Linux 6.6), else
// through an O_PATH fd of the node itself, refusing a symlink.
static int chmod_nofollow(int dir, const char *name, mode_t mode)
{
	if (syscall(SYS_fchmodat2, dir, name, mode, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	if (errno != ENOSYS)
		return -1;
	int fd = openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct stat st;
	int rc = fstat(fd, &st);
	if (rc == 0 && S_ISLNK(st.st_mode)) {
		errno = ELOOP;
		rc = -1;
	}
	if (rc == 0)
		rc = chmod(fdpath(fd), mode);
	int err = errno;
	close(fd);
	errno = err;
	return rc;
}

static int create_device(struct config *c, const struct cdevice *d)
{
	char clean[PATH_MAX], dirpath[PATH_MAX];
	if (clean_path(d->path, clean) < 0 || strcmp(clean, "/") == 0)
		return fail("bad device path %s", d->path);
	const char *name = split_dir(clean, dirpath);
	int dir = mkdir_in(dirpath);
	if (dir < 0)
		return -1;
	if (c->userns) {
		close(dir);
		int f = create_file_in(d->path);
		if (f < 0)
			return -1;
		int rc = do_mount(d->path, fdpath(f), "", MS_BIND, "");
		close(f);
		return rc;
	}
	// mknodat and friends take no O_PATH fd with a name: reopen it.
	int rdir = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	close(dir);
	if (rdir < 0)
		return failerr("open %s", dirpath);
	int rc = 0;
	if (mknodat(rdir, name, d->mode, makedev(d->major, d->minor)) < 0) {
		if (errno != EEXIST)
			rc = failerr("mknod");
	} else if (chmod_nofollow(rdir, name, d->mode & 07777) < 0) {
		rc = failerr("chmod");
	} else if (fchownat(rdir, name, d->uid, d->gid, AT_SYMLINK_NOFOLLOW) < 0) {
		rc = failerr("chown");
	}
	close(rdir);
	return rc;
}

static int setup_dev(struct config *c)
{
	if (c->skip_dev)
		return 0;
	for (uint32_t i = 0; i < c->ndev; i++) {
		if (create_device(c, &c->dev[i]) < 0) {
			char inner[sizeof(errbuf)];
			memcpy(inner, errbuf, sizeof(inner));
			return fail("device %s: %s", c->dev[i].path, inner);
		}
	}
	static const char *links[][2] = {
		{"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"},
		{"/proc/self/fd/2", "stderr"}, {"pts/ptmx", "ptmx"}, {"/proc/kcore", "core"},
	};
	int dev = mkdir_in("/dev");
	if (dev < 0)
		return -1;
	int rdev = openat(dev, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	close(dev);
	if (rdev < 0)
		return failerr("open /dev");
	struct stat st;
	int kcore = stat("/proc/kcore", &st) == 0;
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		if (strcmp(links[i][1], "core") == 0 && !kcore)
			continue;
		if (strcmp(links[i][1], "ptmx") == 0)
			unlinkat(rdev, "ptmx", 0);
		if (symlinkat(links[i][0], rdev, links[i][1]) < 0 && errno != EEXIST) {
			int rc = failerr("link /dev/%s", links[i][1]);
			close(rdev);
			return rc;
		}
	}
	close(rdev);
	return 0;
}

// --- masks -----------------------------------------------------------------

static int mask_paths(char **paths)
{
	for (; *paths != NULL; paths++) {
		int f = open_in_root(*paths, 0);
		if (f < 0) {
			if (errno == ENOENT)
				continue;
			return failerr("mask %s", *paths);
		}
		struct stat st;
		int rc;
		if (fstat(f, &st) < 0)
			rc = failerr("mask %s: stat", *paths);
		else if (S_ISDIR(st.st_mode))
			rc = do_mount("tmpfs", fdpath(f), "tmpfs", MS_RDONLY, "");
		else
			rc = do_mount(fdpath(devnull_fd), fdpath(f), "", MS_BIND, "");
		close(f);
		if (rc < 0) {
			char inner[sizeof(errbuf)];
			memcpy(inner, errbuf, sizeof(inner));
			return fail("mask %s: %s", *paths, inner);
		}
	}
	return 0;
}

static int readonly_paths(char **paths)
{
	for (; *paths != NULL; paths++) {
		int f = open_in_root(*paths, 0);
		if (f < 0) {
			if (errno == ENOENT)
				continue;
			return failerr("make %s read-only", *paths);
		}
		// A detached copy of what is there, made read-only, attached over
		// it: the same file is never looked up again by path.
		int rc = 0;
		int tree = (int)syscall(SYS_open_tree, f, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH);
		if (tree < 0)
			rc = failerr("open_tree");
		if (rc == 0)
			rc = set_tree_attrs(tree, *paths, MS_RDONLY, 0, 0);
		if (rc == 0)
			rc = attach(tree, f, *paths);
		if (tree >= 0)
			close(tree);
		close(f);
		if (rc < 0) {
			char inner[sizeof(errbuf)];
			memcpy(inner, errbuf, sizeof(inner));
			return fail("make %s read-only: %s", *paths, inner);
		}
	}
	return 0;
}

static int do_pivot_root(const char *rootfs)
{
	int oldroot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (oldroot < 0)
		return failerr("open old root");
	int newroot = open(rootfs, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (newroot < 0)
		return failerr("open new root");
	if (fchdir(newroot) < 0)
		return failerr("chdir to new root");
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return failerr("pivot_root");
	if (fchdir(oldroot) < 0)
		return failerr("chdir to old root");
	// The old root may be shared with the host: the unmount below must not
	// propagate there.
	if (do_mount("", ".", "", MS_SLAVE | MS_REC, "") < 0)
		return -1;
	if (umount2(".", MNT_DETACH) < 0)
		return failerr("unmount old root");
	if (chdir("/") < 0)
		return failerr("chdir /");
	close(oldroot);
	close(newroot);
	return 0;
}

static int remount_root_readonly(void)
{
	int f = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (f < 0)
		return failerr("open /");
	unsigned long locked = locked_flags(f);
	close(f);
	return do_mount("", "/", "", MS_BIND | MS_REMOUNT | MS_RDONLY | locked, "");
}

// --- cgroup ----------------------------------------------------------------

// join_cgroup moves this process, a single thread, into the container's
// cgroup: "0" in tasks moves the caller alone, without the wait a move of
// a whole thread group has (see the top of this file).
static int join_cgroup(char **tasks)
{
	for (size_t i = 0; tasks_fds[i] >= 0; i++) {
		if (write(tasks_fds[i], "0", 1) != 1)
			return failerr("join cgroup %s", tasks[i]);
		close(tasks_fds[i]);
	}
	return 0;
}

// --- the process -----------------------------------------------------------

static int enter_cwd(const char *cwd)
{
	if (chdir(cwd) < 0)
		return failerr("chdir %s", cwd);
	char wd[PATH_MAX];
	if (getcwd(wd, sizeof(wd)) == NULL)
		return failerr("cwd %s is outside the container", cwd);
	if (wd[0] != '/')
		return fail("cwd %s is outside the container", cwd);
	return 0;
}

static int capset_all(uint64_t eff, uint64_t perm, uint64_t inh)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2] = {
		{(uint32_t)eff, (uint32_t)perm, (uint32_t)inh},
		{(uint32_t)(eff >> 32), (uint32_t)(perm >> 32), (uint32_t)(inh >> 32)},
	};
	if (syscall(SYS_capset, &hdr, data) < 0)
		return failerr("set capabilities");
	return 0;
}

static int clear_ambient(void)
{
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		return failerr("clear ambient capabilities");
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2];
	if (syscall(SYS_capget, &hdr, data) < 0)
		return failerr("clear inheritable capabilities: capget");
	data[0].inheritable = data[1].inheritable = 0;
	if (syscall(SYS_capset, &hdr, data) < 0)
		return failerr("clear inheritable capabilities: capset");
	return 0;
}

static int setup_user(struct config *c)
{
	umask(c->has_umask ? (mode_t)c->umask : 022);
	uint64_t known = c->cap_last >= 63 ? ~0ULL : (1ULL << (c->cap_last + 1)) - 1;
	if (c->has_caps) {
		for (uint32_t cap = 0; cap <= c->cap_last && cap < 64; cap++) {
			if (c->cap_bnd & (1ULL << cap))
				continue;
			if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
				return failerr("drop bounding capability %u", cap);
		}
		if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
			return failerr("set keepcaps");
	}
	if (setgroups(c->ngroups, c->groups) < 0 && !(c->ngroups == 0 && errno == EPERM))
		return failerr("setgroups");
	if (setresgid(c->gid, c->gid, c->gid) < 0)
		return failerr("setresgid %u", c->gid);
	if (setresuid(c->uid, c->uid, c->uid) < 0)
		return failerr("setresuid %u", c->uid);
	if (!c->has_caps)
		return 0;
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return failerr("set keepcaps");
	if (capset_all(c->cap_eff & known, c->cap_perm & known, c->cap_inh & known) < 0)
		return -1;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		return failerr("clear ambient capabilities");
	for (uint32_t cap = 0; cap <= c->cap_last && cap < 64; cap++) {
		if ((c->cap_amb & (1ULL << cap)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
			return failerr("raise ambient capability %u", cap);
	}
	return 0;
}

static int load_seccomp(struct config *c)
{
	struct sock_fprog prog = {.len = (unsigned short)c->bpf_len, .filter = c->bpf};
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, c->bpf_flags, &prog) < 0) {
		if (errno == EACCES)
			return failerr("seccomp: load");
		return failerr("seccomp: load with flags %#x", c->bpf_flags);
	}
	return 0;
}

static int check_executable(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return -1;
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		return -1;
	}
	// Real and effective ids are the same here: the faccessat system call
	// of old checks the same. glibc's faccessat() tries faccessat2 first
	// and falls back only on ENOSYS, and a seccomp profile may deny
	// faccessat2 with EPERM.
	return (int)syscall(SYS_faccessat, AT_FDCWD, path, X_OK);
}

static int look_path(struct config *c, char *out)
{
	const char *name = c->args[0];
	if (name == NULL)
		return fail("no process args");
	if (strchr(name, '/') != NULL) {
		if (strlen(name) >= PATH_MAX) {
			errno = ENAMETOOLONG;
			return failerr("%s", name);
		}
		if (check_executable(name) < 0)
			return failerr("%s", name);
		snprintf(out, PATH_MAX, "%s", name);
		return 0;
	}
	const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	for (char **e = c->env; *e != NULL; e++)
		if (strncmp(*e, "PATH=", 5) == 0)
			path = *e + 5;
	const char *p = path;
	for (;;) {
		const char *end = strchr(p, ':');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		int w;
		if (n == 0)
			w = snprintf(out, PATH_MAX, "./%s", name);
		else
			w = snprintf(out, PATH_MAX, "%.*s/%s", (int)n, p, name);
		if (w >= 0 && w < PATH_MAX && check_executable(out) == 0)
			return 0;
		if (end == NULL)
			break;
		p = end + 1;
	}
	return fail("\"%s\": executable file not found in $PATH (%s)", name, path);
}

// --- the sequence ----------------------------------------------------------

// set_rlimits sets the process's rlimits, as tabox would from outside
// (process.go, applyRlimits), with the same errors.
static int set_rlimits(struct config *c)
{
	for (uint32_t i = 0; i < c->nrlimits; i++) {
		struct crlimit *l = &c->rlimits[i];
		struct rlimit want = {.rlim_cur = l->soft, .rlim_max = l->hard}, cur;
		if (setrlimit((int)l->resource, &want) == 0)
			continue;
		int err = errno;
		if (err == EPERM && getrlimit((int)l->resource, &cur) == 0 && l->hard > cur.rlim_max)
			return fail("set %s to soft %llu hard %llu: raising the hard limit above %llu needs CAP_SYS_RESOURCE, which tabox does not have here",
				    l->name, (unsigned long long)l->soft, (unsigned long long)l->hard, (unsigned long long)cur.rlim_max);
		errno = err;
		return failerr("set %s to soft %llu hard %llu", l->name, (unsigned long long)l->soft, (unsigned long long)l->hard);
	}
	return 0;
}

// init_cpu_ns is the CPU time the container's cgroup has used so far, the
// init's own, which tabox's report leaves out of the process's.
static long long init_cpu_ns(struct config *c, int cpu)
{
	char buf[512];
	ssize_t n = pread(cpu, buf, sizeof(buf) - 1, 0);
	long long ns = 0;
	if (n > 0) {
		buf[n] = '\0';
		if (c->cpu_is_stat) {
			char *u = strstr(buf, "usage_usec ");
			if (u != NULL)
				ns = atoll(u + 11) * 1000;
		} else {
			ns = atoll(buf);
		}
	}
	close(cpu);
	return ns;
}

// exec_now executes the process right after "saved", for a container
// that tabox run starts as it creates it: what would go to start through
// the exec fifo goes on the sync socket, which the exec closes, with the
// time of the release (a judge's clock starts there: tabox may have sent
// "saved" before the init was set up). They are sent before the filter is
// loaded, which may deny write(2); an error after it goes the same way, if
// the filter lets it.
static void __attribute__((noreturn)) exec_now(struct config *c, const char *path, int cpu)
{
	step("exec", fcntl(cfd, F_SETFD, FD_CLOEXEC) < 0 ? failerr("sync socket") : 0);
	long long ns = cpu >= 0 ? init_cpu_ns(c, cpu) : 0;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	char msg[128];
	int n = snprintf(msg, sizeof(msg), "{\"type\":\"exec\",\"cpu\":%lld,\"mono\":%lld}\n", ns,
			 (long long)now.tv_sec * 1000000000LL + now.tv_nsec);
	step("exec", write(cfd, msg, (size_t)n) != n ? failerr("send exec to tabox") : 0);
	if (c->bpf_len > 0 && c->nnp)
		step("seccomp", load_seccomp(c));
	execve(path, c->args, c->env);
	int err = errno;
	step("exec", fail("%s", errstr(err)));
	_exit(255);
}

// run_exec is the process of tabox exec: the constructor has joined the
// container's namespaces; it joins the cgroup, takes the process's
// credentials and executes it (init.go, runExec).
static void __attribute__((noreturn)) run_exec(struct config *c)
{
	step("close fds", syscall(SYS_close_range, c->close_from, ~0U, CLOSE_RANGE_CLOEXEC) < 0 ? failerr("close_range") : 0);
	// Single-threaded: "0" moves this process, without the wait of a move
	// by pid. The fds are tabox's, opened on the host.
	for (uint32_t i = 0; i < c->ntask_fds; i++) {
		step("cgroup", write(c->task_fds[i], "0", 1) != 1 ? failerr("join cgroup") : 0);
		close(c->task_fds[i]);
	}
	// The rlimits, now that the cgroup is joined: set here, or by tabox.
	if (c->self_ready) {
		step("rlimits", set_rlimits(c));
		step("ready", expect("ready-done"));
	} else {
		step("ready", round_trip("ready", "ready-done"));
	}
	step("cwd", enter_cwd(c->cwd));
	if (c->nnp)
		step("no_new_privs", prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ? failerr("prctl") : 0);
	if (c->bpf_len > 0 && !c->nnp)
		step("seccomp", load_seccomp(c));
	step("user", setup_user(c));
	step("cwd", chdir(c->cwd) < 0 ? failerr("chdir %s", c->cwd) : 0);
	char path[PATH_MAX];
	step("executable", look_path(c, path));
	if (c->bpf_len > 0 && c->nnp)
		step("seccomp", load_seccomp(c));
	// The process outlives tabox exec (--detach).
	step("parent death signal", prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0) < 0 ? failerr("prctl") : 0);
	execve(path, c->args, c->env);
	int err = errno;
	step("exec", fail("%s", errstr(err)));
	_exit(255);
}

void tabox_cinit(int sync_fd, int forked)
{
	struct config c = {0};
	cfd = sync_fd;
	if (!forked)
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	// Nothing in the container may ptrace the init or open its /proc
	// files while it holds host fds (CVE-2016-9962).
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	read_config(&c);
	if (forked)
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (c.exec)
		run_exec(&c);
	pid_t ppid = getppid();

	// Nothing the init inherited may reach the container (CVE-2024-21626).
	step("close fds", syscall(SYS_close_range, c.close_from, ~0U, CLOSE_RANGE_CLOEXEC) < 0 ? failerr("close_range") : 0);
	if (c.clear_ambient)
		step("user namespace", clear_ambient());
	// No exec fifo: tabox run starts the container as it creates it.
	int fifo = -1, fd_dir = -1;
	if (*c.fifo) {
		fifo = open(c.fifo, O_PATH | O_CLOEXEC);
		step("exec fifo", fifo < 0 ? failerr("open %s", c.fifo) : 0);
		fd_dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		step("exec fifo", fd_dir < 0 ? failerr("open /proc/self/fd") : 0);
	}
	if (c.join_keyring) {
		char name[512];
		snprintf(name, sizeof(name), "_ses.%s", c.id);
		long r = syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name, 0, 0, 0);
		step("session keyring", r < 0 && errno != ENOSYS ? failerr("keyctl") : 0);
	}
	step("prepare rootfs", prepare_rootfs(&c));
	step("mounts", mount_all(&c));
	step("devices", setup_dev(&c));
	if (*c.hostname)
		step("hostname", sethostname(c.hostname, strlen(c.hostname)) < 0 ? failerr("sethostname \"%s\"", c.hostname) : 0);
	if (*c.domainname)
		step("hostname", setdomainname(c.domainname, strlen(c.domainname)) < 0 ? failerr("setdomainname \"%s\"", c.domainname) : 0);
	// Masks come after every mount, so that no mount can uncover them.
	step("masked paths", mask_paths(c.masked));
	step("readonly paths", readonly_paths(c.readonly));
	// The cgroup's files, while the host's /sys/fs/cgroup is in view, once
	// tabox create has made them.
	if (c.cgroup_wait)
		step("cgroup", wait_cgroup(&c));
	int cpu = cpu_fd;
	step("pivot_root", do_pivot_root(c.rootfs));
	close(root_fd);
	close(devnull_fd);
	if (c.readonly_root)
		step("readonly rootfs", remount_root_readonly());
	// From here on, what the init allocates is the container's.
	if (tasks_fds != NULL)
		step("cgroup", join_cgroup(c.tasks));
	// The rlimits and oom_score_adj, once the init no longer needs what
	// they may limit: set here, or by tabox.
	if (c.self_ready)
		step("rlimits", set_rlimits(&c));
	else
		step("ready", round_trip("ready", "ready-done"));
	step("cwd", enter_cwd(c.cwd));
	if (c.nnp)
		step("no_new_privs", prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ? failerr("prctl") : 0);
	// Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: before
	// the capabilities go. With it, as late as possible.
	if (c.bpf_len > 0 && !c.nnp)
		step("seccomp", load_seccomp(&c));
	step("user", setup_user(&c));
	// A change of credentials clears the parent-death signal; until the
	// state is saved, the init must still die with tabox create.
	step("parent death signal", prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 ? failerr("prctl") : (getppid() != ppid ? fail("tabox create exited") : 0));
	step("cwd", chdir(c.cwd) < 0 ? failerr("chdir %s", c.cwd) : 0);
	char path[PATH_MAX];
	step("executable", look_path(&c, path));
	// Started as it is created, on its own: tabox sends "saved" once it
	// is ready for the process to run, without being asked, and learns
	// from "created" that what fails from here on fails the start.
	if (c.self_ready && fifo < 0)
		step("created", send_msg("created") < 0 ? -1 : expect("saved"));
	else
		step("created", round_trip("created", "saved"));
	// The state is saved: from now on the container outlives tabox create.
	step("parent death signal", prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0) < 0 ? failerr("prctl") : 0);
	if (fifo < 0)
		exec_now(&c, path, cpu);
	close(cfd);
	cfd = -1;

	char name[32];
	snprintf(name, sizeof(name), "%d", fifo);
	int w = openat(fd_dir, name, O_WRONLY | O_CLOEXEC);
	step("exec fifo", w < 0 ? failerr("open") : 0);
	close(fifo);
	close(fd_dir);
	step("exec fifo", write(w, "", 1) != 1 ? failerr("write") : 0);
	// From here on, start waits for the exec; an error goes to it too.
	if (c.bpf_len > 0 && c.nnp && load_seccomp(&c) < 0) {
		dprintf(w, "Eseccomp: %s", errbuf);
		_exit(255);
	}
	if (cpu >= 0)
		dprintf(w, "C%lld\n", init_cpu_ns(&c, cpu));
	execve(path, c.args, c.env);
	dprintf(w, "Eexec: %s", errstr(errno));
	_exit(255);
}
