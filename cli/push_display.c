/* push_display.c: what `push` with a spec shows while its targets upload: one line per
 * target, redrawn in place on a terminal and as plain lines otherwise, then the summary
 * table or the JSON array of results. */
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "push_run.h"

/* ---- display: one line per target, redrawn on a terminal ---- */

static void human(char *buf, size_t size, uint64_t bytes)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes;
    int u = 0;

    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    snprintf(buf, size, "%.1f %s", v, units[u]);
}

static void clear_block(struct push_run *run)
{
    if (run->tty && run->drawn) {
        fprintf(stderr, "\033[%dA\033[J", run->drawn);
        run->drawn = 0;
    }
}

static void draw_line(const struct target *t)
{
    char d[32], tot[32], bar[21];
    unsigned pct = t->total ? (unsigned)(MIN(t->done, t->total) * 100 / t->total) : 0;
    size_t fill = pct / 5;

    human(d, sizeof(d), t->done);
    human(tot, sizeof(tot), t->total);
    memset(bar, '#', fill);
    memset(bar + fill, '-', 20 - fill);
    bar[20] = '\0';
    if (t->finished)
        fprintf(stderr, "%-16.16s %-10.10s %s\033[K\n", t->name, t->type,
                t->ok ? "done" : "FAILED");
    else if (!t->started)
        fprintf(stderr, "%-16.16s %-10.10s waiting\033[K\n", t->name, t->type);
    else if (t->total)
        fprintf(stderr, "%-16.16s %-10.10s [%s] %3u%% %s / %s\033[K\n", t->name, t->type, bar,
                pct, d, tot);
    else
        fprintf(stderr, "%-16.16s %-10.10s %s\033[K\n", t->name, t->type, d);
}

/* Called with run->lock held. */
void push_redraw(struct push_run *run)
{
    if (run->quiet)
        return;
    if (run->tty) {
        clear_block(run);
        for (size_t i = 0; i < run->n; i++)
            draw_line(&run->t[i]);
        run->drawn = (int)run->n;
        fflush(stderr);
        return;
    }
    for (size_t i = 0; i < run->n; i++) {
        struct target *t = &run->t[i];
        unsigned step = t->total ? (unsigned)(MIN(t->done, t->total) * 10 / t->total) : 0;

        if (t->finished && !t->announced) {
            fprintf(stderr, "%s: %s: %s\n", cli_progname, t->name, t->ok ? "done" : "failed");
            t->announced = true;
        } else if (!t->finished && t->started && step > t->printed_step) {
            char d[32], tot[32];

            human(d, sizeof(d), t->done);
            human(tot, sizeof(tot), t->total);
            fprintf(stderr, "%s: %s: upload: %u%% (%s of %s)\n", cli_progname, t->name,
                    step * 10, d, tot);
            t->printed_step = step;
        }
    }
}

void push_on_progress(void *opaque, const char *phase, uint64_t done, uint64_t total)
{
    struct target *t = opaque;

    if (strcmp(phase, "upload"))
        return;
    pthread_mutex_lock(&t->run->lock);
    t->done = done;
    t->total = total;
    pthread_mutex_unlock(&t->run->lock);
}

void push_on_log(void *opaque, enum mk_log_level level, const char *msg)
{
    static const char *const names[] = {"error", "warning", "info", "debug"};
    struct target *t = opaque;
    struct push_run *run = t->run;

    if (level > MK_LOG_WARN && !run->verbose)
        return;
    pthread_mutex_lock(&run->lock);
    clear_block(run);
    fprintf(stderr, "%s: %s: %s: %s\n", cli_progname, names[level], t->name, msg);
    pthread_mutex_unlock(&run->lock);
}

static const char *image_of(json_t *r)
{
    static const char *const keys[] = {"image", "name", "id", "selfLink", "url"};

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (json_is_string(json_object_get(r, keys[i])))
            return json_string_value(json_object_get(r, keys[i]));
    return "";
}

void push_report(struct push_run *run, bool json)
{
    json_t *all = json_array();

    for (size_t i = 0; i < run->n; i++) {
        struct target *t = &run->t[i];
        json_t *r = t->result ? json_loads(t->result, 0, NULL) : NULL;
        json_t *o = json_pack("{s:s, s:s, s:s, s:f}", "target", t->name, "uploader", t->type,
                              "status", t->ok ? "ok" : "failed", "seconds",
                              (double)(int64_t)(t->seconds * 1000) / 1000);

        if (t->art)
            json_object_set_new(o, "format", json_string(mk_format_name(t->art->fmt)));
        if (t->ok) {
            json_object_set_new(o, "image", json_string(image_of(r)));
            json_object_set(o, "result", r ? r : json_null());
        } else {
            json_object_set_new(o, "error", json_string(t->error));
            if (json)
                cli_out.json_done = true; /* the error is in the targets' JSON */
            cli_error("target '%s': %s", t->name, t->error);
        }
        json_decref(r);
        json_array_append_new(all, o);
    }
    if (json) {
        bool all_ok = true;

        for (size_t i = 0; i < run->n; i++)
            all_ok = all_ok && run->t[i].ok;
        cli_json_result(json_pack("{s:o}", "targets", json_incref(all)), all_ok ? "ok" : "failed");
    } else if (!run->quiet) {
        printf("%-16s %-10s %-40s %-7s %s\n", "TARGET", "UPLOADER", "IMAGE", "STATUS", "TIME");
        for (size_t i = 0; i < run->n; i++) {
            json_t *o = json_array_get(all, i);
            const char *image = json_string_value(json_object_get(o, "image"));

            printf("%-16s %-10s %-40s %-7s %.1fs\n", run->t[i].name, run->t[i].type,
                   image && *image ? image : "-", run->t[i].ok ? "ok" : "FAILED",
                   run->t[i].seconds);
        }
    }
    json_decref(all);
}
