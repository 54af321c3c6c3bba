#include <stdio.h>

#ifndef DOCKER_IMAGE
	#define DOCKER_IMAGE "hello-world"
#endif

#ifndef DOCKER_GREETING
	#define DOCKER_GREETING "Hello from Docker!"
#endif

#ifndef DOCKER_ARCH
	#define DOCKER_ARCH "amd64"
#endif

int main(void)
{
	fputs(DOCKER_GREETING, stdout);
	fputs("(" DOCKER_IMAGE ", " DOCKER_ARCH ")\n", stdout);
	return 0;
}
