/* hello_glibc: the smallest glibc program, linked statically. glibc's start-up reads the
 * ID registers (HWCAP_CPUID: the kernel emulates EL0 reads of them), sets up TLS through
 * TPIDR_EL0, and probes rseq and set_robust_list before main runs. */
#include <stdio.h>
#include <errno.h>
#include <unistd.h>

int main(void)
{
	errno = 0;
	if (write(-1, "", 0) != -1 || errno != EBADF) {
		printf("errno through TLS: got %d, want EBADF\n", errno);
		return 1;
	}
	printf("hello from glibc (pid %d)\n", (int)getpid());
	return 0;
}
