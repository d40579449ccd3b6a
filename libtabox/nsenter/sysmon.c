// A coarse timer for the Go runtime's monitor thread (sysmon).
//
// While any goroutine runs, sysmon naps for 20 us at a time: for the first
// millisecond, and again after each system call it finds blocking, so that
// it can hand the P to another goroutine. A tabox process runs one
// goroutine of work, and nothing waits on those checks; but each nap is a
// timer, a wakeup and two context switches. Sequentially that is about 60
// per run; with 50 containers starting at once on two CPUs, about 100 per
// container, and 5% of all the CPU time they take.
//
// The runtime creates sysmon before any other thread, so the first thread
// this binary creates, from its main thread, gets a timer slack of 10 ms:
// its naps then end with whatever else wakes the CPU first, at most 10 ms
// late, the longest nap sysmon takes on its own. A thread's timer slack is
// inherited by the threads and processes it creates. sysmon creates
// threads too (to run goroutines while another holds a P in a blocking
// system call), and those are created with its default slack, which is
// the main thread's when sysmon was made: every thread but sysmon, and
// every process tabox starts, keeps the slack tabox was given.
//
// With cgo, Go creates its threads with pthread_create, which the link
// wraps (-Wl,--wrap=pthread_create, in nsenter.go).
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SYSMON_TIMER_SLACK_NS 10000000UL

extern int __real_pthread_create(pthread_t *thread, const pthread_attr_t *attr,
				 void *(*start)(void *), void *arg);

static struct {
	void *(*start)(void *);
	void *arg;
} first;

static int created;
static __thread int is_sysmon;

static void *start_with_slack(void *unused)
{
	(void)unused;
	is_sysmon = 1;
	prctl(PR_SET_TIMERSLACK, SYSMON_TIMER_SLACK_NS, 0, 0, 0);
	return first.start(first.arg);
}

int __wrap_pthread_create(pthread_t *thread, const pthread_attr_t *attr,
			  void *(*start)(void *), void *arg)
{
	if (is_sysmon) {
		// 0 restores this thread's default slack for the new thread.
		prctl(PR_SET_TIMERSLACK, 0, 0, 0, 0);
		int err = __real_pthread_create(thread, attr, start, arg);
		prctl(PR_SET_TIMERSLACK, SYSMON_TIMER_SLACK_NS, 0, 0, 0);
		return err;
	}
	// The first call comes from the runtime's only thread, before any
	// other exists; later calls never take this branch.
	if (__atomic_fetch_add(&created, 1, __ATOMIC_RELAXED) == 0 &&
	    syscall(SYS_gettid) == getpid()) {
		first.start = start;
		first.arg = arg;
		return __real_pthread_create(thread, attr, start_with_slack, NULL);
	}
	return __real_pthread_create(thread, attr, start, arg);
}
