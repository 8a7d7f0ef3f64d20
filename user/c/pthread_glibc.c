/* pthread_glibc: glibc's threads on our kernel: pthread_create (clone with CLONE_THREAD,
 * CLONE_SETTLS, CLONE_PARENT_SETTID, CLONE_CHILD_CLEARTID), mutexes and condition
 * variables (futex), pthread_join (the cleared tid word), thread-local storage and errno
 * per thread, pthread_kill (tgkill), a detached thread, fork from a threaded process,
 * and exit() from a thread ending the process. Prints one "ok"/"not ok" line per check
 * and "pthread_glibc: N passed, M failed". */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int passed, failed;
static void check(int ok, const char *what)
{
	printf("%s - %s\n", ok ? "ok" : "not ok", what);
	if (ok)
		passed++;
	else
		failed++;
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static long counter;
static int arrived;
static __thread int tls_value = 7;

static void *worker(void *arg)
{
	long id = (long)arg;
	tls_value = (int)id * 100;
	for (int i = 0; i < 2000; i++) {
		pthread_mutex_lock(&lock);
		counter++;
		pthread_mutex_unlock(&lock);
	}
	pthread_mutex_lock(&lock);
	arrived++;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	/* errno is per thread. */
	errno = (int)id;
	sched_yield();
	return (void *)(long)(tls_value + (errno == id ? 0 : 1000));
}

static volatile sig_atomic_t usr1_tid;
static void on_usr1(int sig)
{
	(void)sig;
	usr1_tid = (sig_atomic_t)syscall(SYS_gettid);
}

static pthread_t waiter_self;
static volatile pid_t waiter_tid;
static void *waiter(void *arg)
{
	(void)arg;
	waiter_tid = (pid_t)syscall(SYS_gettid);
	while (!usr1_tid)
		usleep(1000);
	return NULL;
}

static volatile int detached_ran;
static void *detached(void *arg)
{
	(void)arg;
	detached_ran = 1;
	return NULL;
}

static void *exiter(void *arg)
{
	(void)arg;
	usleep(10000);
	exit(9); /* exit_group: ends every thread */
}

int main(void)
{
	pthread_t t[4];
	/* Line-buffered: fork must not hand the children a buffer to print again. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	int ok = 1;
	for (long i = 0; i < 4; i++)
		ok &= pthread_create(&t[i], NULL, worker, (void *)(i + 1)) == 0;
	check(ok, "pthread_create x4");
	pthread_mutex_lock(&lock);
	while (arrived < 4)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
	check(1, "pthread_cond_wait woke when all four arrived");
	long sum = 0;
	for (int i = 0; i < 4; i++) {
		void *r;
		pthread_join(t[i], &r);
		sum += (long)r;
	}
	check(counter == 8000, "mutex: 4 x 2000 increments");
	check(sum == 1000, "pthread_join returns each thread's value (TLS and errno per thread)");
	check(tls_value == 7, "the main thread's TLS is untouched");

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	pthread_create(&waiter_self, NULL, waiter, NULL);
	while (!waiter_tid)
		usleep(1000);
	check(pthread_kill(waiter_self, SIGUSR1) == 0, "pthread_kill");
	pthread_join(waiter_self, NULL);
	check(usr1_tid == waiter_tid, "pthread_kill's signal ran in that thread");

	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_t d;
	check(pthread_create(&d, &attr, detached, NULL) == 0, "a detached thread starts");
	for (int i = 0; i < 200 && !detached_ran; i++)
		usleep(1000);
	check(detached_ran, "... and runs");

	pid_t pid = fork();
	if (pid == 0) {
		/* The child of a threaded process has one thread. */
		pthread_t c;
		if (pthread_create(&c, NULL, detached, NULL) != 0)
			_exit(2);
		pthread_join(c, NULL);
		_exit(3);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	check(WIFEXITED(st) && WEXITSTATUS(st) == 3, "fork in a threaded process; threads in the child");

	/* fork + exec of another glibc program: the child exits its old image with a
	 * robust list and a CLONE_CHILD_CLEARTID word registered. */
	pid = fork();
	if (pid == 0) {
		execl("/bin/hello_glibc", "hello_glibc", (char *)0);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	check(WIFEXITED(st) && WEXITSTATUS(st) == 0, "fork + exec of another glibc program");

	pid = fork();
	if (pid == 0) {
		pthread_t e;
		pthread_create(&e, NULL, exiter, NULL);
		for (;;)
			pause();
	}
	waitpid(pid, &st, 0);
	check(WIFEXITED(st) && WEXITSTATUS(st) == 9, "exit() in a thread ends the process");

	printf("pthread_glibc: %d passed, %d failed\n", passed, failed);
	return failed != 0;
}
