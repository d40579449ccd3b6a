#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/*
 * The target, the signals caught while there was none, and whether they
 * are dropped instead. All are read and written with atomic operations:
 * the handler runs on any thread, at any time, and a signal may interrupt
 * the code that sets the target.
 */
static int target_pidfd = -1;
static int target_pid;
static unsigned long held;
static int stopped;

/* Async-signal-safe: atomics, pidfd_send_signal and kill only. */
static void send_held(void)
{
	unsigned long bits = __atomic_exchange_n(&held, 0, __ATOMIC_SEQ_CST);
	int fd = __atomic_load_n(&target_pidfd, __ATOMIC_SEQ_CST);
	int pid = __atomic_load_n(&target_pid, __ATOMIC_SEQ_CST);

	for (int sig = 1; bits != 0; sig++) {
		if (!(bits & (1UL << sig)))
			continue;
		bits &= ~(1UL << sig);
		if (fd >= 0)
			syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0);
		else if (pid > 0)
			kill(pid, sig);
	}
}

static void forward(int sig, siginfo_t *info, void *ucontext)
{
	int saved = errno;

	(void)info;
	(void)ucontext;
	if (__atomic_load_n(&stopped, __ATOMIC_SEQ_CST))
		return;
	/*
	 * Held first, then sent if there is a target: whichever of this
	 * handler and tabox_sigfwd_target exchanges the bit out sends it,
	 * and only one can.
	 */
	__atomic_fetch_or(&held, 1UL << sig, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&target_pidfd, __ATOMIC_SEQ_CST) >= 0 ||
	    __atomic_load_n(&target_pid, __ATOMIC_SEQ_CST) > 0)
		send_held();
	errno = saved;
}

int tabox_sigfwd_catch(const int *sigs, int n)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = forward;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	for (int i = 0; i < n; i++)
		sigaddset(&sa.sa_mask, sigs[i]);
	__atomic_store_n(&stopped, 0, __ATOMIC_SEQ_CST);
	for (int i = 0; i < n; i++)
		if (sigaction(sigs[i], &sa, NULL) < 0)
			return -1;
	return 0;
}

void tabox_sigfwd_target(int pidfd, int pid)
{
	__atomic_store_n(&target_pidfd, pidfd, __ATOMIC_SEQ_CST);
	__atomic_store_n(&target_pid, pidfd >= 0 ? 0 : pid, __ATOMIC_SEQ_CST);
	__atomic_store_n(&stopped, 0, __ATOMIC_SEQ_CST);
	send_held();
}

void tabox_sigfwd_stop(void)
{
	__atomic_store_n(&stopped, 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&target_pidfd, -1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&target_pid, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&held, 0, __ATOMIC_SEQ_CST);
}

unsigned long tabox_sigfwd_held(void)
{
	return __atomic_load_n(&held, __ATOMIC_SEQ_CST);
}
