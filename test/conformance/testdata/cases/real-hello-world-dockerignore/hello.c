hello.c (stand-in)
