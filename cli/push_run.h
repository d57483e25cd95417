/* push_run.h: what the files of `push` with a spec share (push_targets.c runs the uploads,
 * push_display.c shows them): the targets, the run, and the display's entry points. */
#ifndef MK_CLI_PUSH_RUN_H
#define MK_CLI_PUSH_RUN_H

#include <pthread.h>
#include <stdint.h>

#include "push_targets.h"

#define MIN(a, b) ((a) < (b) ? (a) : (b))

struct artefact {
    enum mk_format fmt;
    char *path;
    char error[512]; /* why it could not be written; "" when it was */
};

struct target {
    size_t index; /* in the spec */
    const char *name;
    const char *type;
    struct artefact *art;
    struct mk_upload *up;
    struct mk_deploy *deploy; /* the target's deploy: section, or NULL */
    struct mk_ctx *ctx;
    struct push_run *run;
    pthread_t thread;
    bool started;
    /* Shared with the display, under run->lock. */
    uint64_t done, total;
    unsigned printed_step; /* the last tenth printed, for plain progress lines */
    bool finished, ok, announced;
    double start, seconds;
    char error[1024];
    char *result;
};

struct push_run {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct target *t;
    size_t n;
    size_t running;
    bool tty, quiet, verbose;
    int drawn; /* lines of the progress block on screen */
};

/* Redraws the targets' lines (on a terminal) or prints what changed; run->lock held. */
void push_redraw(struct push_run *run);
/* A target's context callbacks (opaque = the struct target). */
void push_on_progress(void *opaque, const char *phase, uint64_t done, uint64_t total);
void push_on_log(void *opaque, enum mk_log_level level, const char *msg);
/* The summary table, or the JSON array of per-target results with --json; errors on stderr. */
void push_report(struct push_run *run, bool json);

#endif
