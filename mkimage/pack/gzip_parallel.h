/* gzip_parallel.h: a streaming gzip compressor that uses several threads and whose output
 * does not depend on how many. */
#ifndef MK_GZIP_PARALLEL_H
#define MK_GZIP_PARALLEL_H

#include "mk_private.h"

/* Input is cut into blocks of this size, each compressed on its own. */
#define MK_GZIP_BLOCK (128u * 1024u)

struct mk_gzip;

/* Starts a gzip stream into (sink) at (level) 1-9 (0 = 6) with (jobs) threads (0 = online
 * CPUs). The header is pinned (no name, mtime 0, OS 3) so that equal input gives equal
 * bytes. The sink is called only from the caller's thread, in order. */
int mk_gzip_new(struct mk_ctx *ctx, int level, int jobs, struct mk_sink *sink,
                struct mk_gzip **ret);
int mk_gzip_write(struct mk_ctx *ctx, struct mk_gzip *gz, const void *buf, size_t len);
/* Compresses what is left and writes the trailer. */
int mk_gzip_finish(struct mk_ctx *ctx, struct mk_gzip *gz);
/* Stops the threads and frees everything; accepts NULL and a stream that failed. */
void mk_gzip_free(struct mk_gzip *gz);

#endif
