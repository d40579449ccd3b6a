// The C side of package nsenter: keep it minimal. It only parses two
// environment variables set by the tabox parent and makes setns/unshare
// calls; every other step of the init is Go. (reaper.c is the other
// process that must not start the Go runtime.)
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

// Errors are reported on the sync socket (its fd number is in
// _TABOX_SYNCFD) in the JSON framing the Go side uses, so that tabox create
// prints them like any other init error.
static int sync_fd = 2;

static void fail(const char *what, long arg)
{
	int err = errno;
	dprintf(sync_fd,
		"{\"type\":\"error\",\"error\":{\"step\":\"join namespaces\","
		"\"message\":\"%s %ld: %s\"}}\n",
		what, arg, strerror(err));
	_exit(1);
}

// _TABOX_SETNS is "fd:nstype,fd:nstype,…", the user namespace first (the
// parent orders it so): joining it first gives the init the capabilities
// it needs to join the namespaces that user namespace owns.
// _TABOX_UNSHARE is a decimal CLONE_NEW* mask to create after the joins.
void tabox_reap(void);
void tabox_cinit(int sync_fd, int forked);

extern char **environ;

// tabox_env_taken is the environment entry that GOMAXPROCS=1 stands in for
// while the Go runtime starts; Go code puts it back (RestoreEnv).
char *tabox_env_taken;

// lend_gomaxprocs has a plain tabox command's Go runtime start with one P,
// as if GOMAXPROCS=1 were in its environment: the runtime reads it from the
// process's first environment array, before any Go code runs. Set later
// (runtime.GOMAXPROCS), the second P's thread has started already and the
// change stops the world: 0.3 ms of a 6 ms tabox run. An array cannot
// grow in place: the last entry lends its slot. Before main, environ is
// that first array (no constructor of the binary's calls setenv); the
// constructor does not take it as an argument, which musl does not pass.
static void lend_gomaxprocs(void)
{
	char **envp = environ;

	if (envp == NULL || envp[0] == NULL || getenv("GOMAXPROCS") != NULL)
		return;
	size_t last = 0;
	while (envp[last + 1] != NULL)
		last++;
	tabox_env_taken = envp[last];
	envp[last] = (char *)"GOMAXPROCS=1";
}

void tabox_nsenter(void)
{
	if (getenv("_TABOX_REAPER") != NULL)
		tabox_reap();

	const char *setns_list = getenv("_TABOX_SETNS");
	const char *unshare_flags = getenv("_TABOX_UNSHARE");
	const char *sync = getenv("_TABOX_SYNCFD");
	if (setns_list == NULL && unshare_flags == NULL && sync == NULL) {
		lend_gomaxprocs();
		return;
	}

	if (sync != NULL)
		sync_fd = atoi(sync);

	if (setns_list != NULL) {
		const char *p = setns_list;
		while (*p != '\0') {
			char *end;
			long fd = strtol(p, &end, 10);
			if (end == p || *end != ':')
				fail("bad _TABOX_SETNS entry at fd", fd);
			p = end + 1;
			long type = strtol(p, &end, 10);
			if (end == p)
				fail("bad _TABOX_SETNS type for fd", fd);
			if (setns((int)fd, (int)type) < 0)
				fail("setns fd", fd);
			close((int)fd);
			p = end;
			if (*p == ',')
				p++;
		}
		unsetenv("_TABOX_SETNS");
	}
	if (unshare_flags != NULL) {
		long flags = strtol(unshare_flags, NULL, 10);
		if (flags != 0 && unshare((int)flags) < 0)
			fail("unshare flags", flags);
		unsetenv("_TABOX_UNSHARE");
	}
	// _TABOX_FORK: a PID namespace was among the joins, which only this
	// process's children enter. The child goes on as the init; this
	// process reports its PID (as tabox sees it: this process is still in
	// tabox's PID namespace) and exits, and tabox, a subreaper, adopts it.
	if (getenv("_TABOX_FORK") != NULL) {
		unsetenv("_TABOX_FORK");
		pid_t pid = fork();
		if (pid < 0)
			fail("fork in pid namespace, pid", 0);
		if (pid > 0) {
			dprintf(sync_fd, "{\"type\":\"pid\",\"pid\":%d}\n", (int)pid);
			_exit(0);
		}
		setenv("_TABOX_FORKED", "1", 1);
	}
	// _TABOX_CINIT: the whole init is C (cinit.c); it never returns.
	if (getenv("_TABOX_CINIT") != NULL)
		tabox_cinit(sync_fd, getenv("_TABOX_FORKED") != NULL);
}
