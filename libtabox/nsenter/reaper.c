// The PID 1 of a tabox sandbox's PID namespace (see libtabox/reaper.go).
// C, because it must never start the Go runtime: it is a process that
// lives as long as the sandbox, and it should cost nothing.
#define _GNU_SOURCE
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

// tabox_reap reaps whatever is reparented to it until it is killed.
// Signals are all blocked: the kernel drops those a PID 1 has no handler
// for only when they are not blocked, and SIGCHLD then waits, pending,
// for sigwaitinfo. SIGKILL from outside the namespace still ends it.
void tabox_reap(void)
{
	sigset_t all, chld;

	// Nothing of tabox's stays open in a process the sandbox can see,
	// and nothing in the sandbox may ptrace it or open its /proc files.
	syscall(SYS_close_range, 0, ~0U, 0);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	for (;;) {
		while (waitpid(-1, NULL, WNOHANG | __WALL) > 0)
			;
		sigwaitinfo(&chld, NULL);
	}
}
