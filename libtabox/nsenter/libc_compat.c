// What a static link with musl needs of glibc's ABI: Debian's libseccomp.a
// is built against glibc with _FORTIFY_SOURCE, and calls __fprintf_chk
// (to write a filter out as text, which tabox never asks for).
#include <stdarg.h>
#include <stdio.h>

#ifndef __GLIBC__
int __fprintf_chk(FILE *f, int flag, const char *fmt, ...)
{
	va_list ap;
	int n;

	(void)flag;
	va_start(ap, fmt);
	n = vfprintf(f, fmt, ap);
	va_end(ap);
	return n;
}
#endif
