/* secrets.c: what a process holding credentials does once. Keys, passwords and tokens pass
 * through jansson (parsing a key file, building a Keystone request), whose lexer and string
 * buffers are freed without being cleared: every block jansson frees is wiped first. And
 * the process is made non-dumpable, so no core dump or ptrace by another user sees them. */
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/prctl.h>

#include <jansson.h>

#include "mk_private.h"
#include "uploader.h"

static void wiping_free(void *p)
{
    if (p) {
        mk_wipe(p, malloc_usable_size(p));
        free(p);
    }
}

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void setup(void)
{
    /* malloc() and a free() that wipes: blocks jansson allocated before stay compatible. */
    json_set_alloc_funcs(malloc, wiping_free);
    prctl(PR_SET_DUMPABLE, 0);
}

void mk_hold_secrets(void)
{
    pthread_once(&once, setup);
}
