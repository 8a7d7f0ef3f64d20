/* hello_glibc: the smallest glibc program, linked statically. glibc's start-up reads the
 * ID registers (HWCAP_CPUID: the kernel emulates EL0 reads of them), sets up TLS through
 * TPIDR_EL0, and probes rseq and set_robust_list before main runs. Then, as a JIT (or
 * LTP's mprotect04) does, it writes code into a page, cleans the caches for it from user
 * space (CTR_EL0, dc cvau, ic ivau: SCTLR_EL1.UCT and UCI), makes it executable and
 * calls it. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(void)
{
	errno = 0;
	if (write(-1, "", 0) != -1 || errno != EBADF) {
		printf("errno through TLS: got %d, want EBADF\n", errno);
		return 1;
	}
	/* mov w0, #42; ret */
	static const uint32_t code[] = { 0x52800540, 0xd65f03c0 };
	uint8_t *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 2;
	memcpy(p, code, sizeof code);
	__builtin___clear_cache((char *)p, (char *)p + sizeof code);
	if (mprotect(p, 4096, PROT_READ | PROT_EXEC) != 0)
		return 3;
	int (*fn)(void) = (int (*)(void))p;
	if (fn() != 42) {
		printf("generated code returned the wrong value\n");
		return 4;
	}
	printf("hello from glibc (pid %d)\n", (int)getpid());
	return 0;
}
