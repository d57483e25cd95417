/* output.c: the progress, JSON and -q/-v/--json convention of every command (output.h). */
#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define TTY_REDRAW 0.1     /* seconds between bar redraws */
#define LINE_INTERVAL 5.0  /* seconds between progress lines when not on a terminal */
#define BAR_WIDTH 30

struct cli_output cli_out;

bool cli_out_arg(const char *arg)
{
    if (!strcmp(arg, "--json"))
        cli_out.json = true;
    else if (!strcmp(arg, "-q") || !strcmp(arg, "--quiet"))
        cli_out.quiet = true;
    else if (!strcmp(arg, "-v") || !strcmp(arg, "--verbose"))
        cli_out.verbose = true;
    else
        return false;
    return true;
}

bool cli_out_getopt(int c)
{
    return cli_out_arg(c == CLI_OUT_OPT_JSON ? "--json" : c == 'q' ? "-q" : c == 'v' ? "-v" : "");
}

void cli_out_scan(const char *command, int argc, char **argv)
{
    cli_out.command = command;
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
        cli_out_arg(argv[i]);
}

/* ---- progress ---- */

static struct {
    bool tty;
    char phase[48];
    double start, last_draw, last_line, first_t;
    uint64_t first_done;
    bool have_first, drawn, lined;
    double line_interval;
} prog;

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void human(char *buf, size_t size, double bytes)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;

    while (bytes >= 1024 && u < 4) {
        bytes /= 1024;
        u++;
    }
    snprintf(buf, size, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
}

static const char *label(const char *phase)
{
    static const struct {
        const char *phase, *label;
    } labels[] = {
        {"write", "writing"},      {"compress", "compressing"}, {"read", "reading"},
        {"upload", "uploading"},   {"create", "creating image"}, {"boot", "booting"},
        {"unpack", "unpacking"},   {"copy", "copying"},          {"plugin", "uploading"},
        {"deploy", "deploying"},   {"image creation", "creating image"},
        {"appliance", "starting the libguestfs appliance"},
    };
    for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++)
        if (!strcmp(phase, labels[i].phase))
            return labels[i].label;
    return phase;
}

void cli_progress_erase(void)
{
    if (prog.drawn) {
        fputs("\r\033[K", stderr);
        prog.drawn = false;
    }
}

void cli_progress_end(void)
{
    if (prog.drawn)
        fputc('\n', stderr);
    prog.drawn = false;
    prog.phase[0] = '\0';
}

static void on_progress(void *opaque, const char *phase, uint64_t done, uint64_t total)
{
    double t = now(), rate = 0;
    char line[200], d[32], tot[32], r[32], eta[32] = "";
    uint64_t pct = total ? (done >= total ? 100 : done * 100 / total) : 0;
    int n;

    (void)opaque;
    if (cli_out.quiet || (cli_out.json && !prog.tty))
        return;
    if (strncmp(prog.phase, phase, sizeof(prog.phase) - 1)) {
        cli_progress_end();
        snprintf(prog.phase, sizeof(prog.phase), "%s", phase);
        prog.start = prog.last_line = t;
        prog.last_draw = 0;
        prog.have_first = prog.lined = false;
    }
    if (!prog.have_first) {
        /* Bytes already there when the phase starts (a resumed upload) are not speed. */
        prog.have_first = true;
        prog.first_done = done;
        prog.first_t = t;
    }
    if (prog.tty ? t - prog.last_draw < TTY_REDRAW && done != total
                 : t - prog.last_line < prog.line_interval &&
                       !(prog.lined && total && done == total))
        return;
    prog.last_draw = prog.last_line = t;
    if (t - prog.first_t > 0.5 && done > prog.first_done)
        rate = (double)(done - prog.first_done) / (t - prog.first_t);
    human(d, sizeof(d), (double)done);
    human(tot, sizeof(tot), (double)total);
    r[0] = '\0';
    if (rate > 0) {
        human(r, sizeof(r) - 2, rate);
        strcat(r, "/s");
    }
    if (total && rate > 0 && done < total) {
        unsigned s = (unsigned)((double)(total - done) / rate);
        snprintf(eta, sizeof(eta), ", %u:%02u left", s / 60, s % 60);
    }
    if (total == 0 && done == 0)
        n = snprintf(line, sizeof(line), "%s... %.0f s", label(phase), t - prog.start);
    else if (total == 0)
        n = snprintf(line, sizeof(line), "%s %s%s%s", label(phase), d, *r ? ", " : "", r);
    else if (prog.tty) {
        char bar[BAR_WIDTH + 1];
        size_t fill = (size_t)(pct * BAR_WIDTH / 100);

        memset(bar, '#', fill);
        memset(bar + fill, '-', BAR_WIDTH - fill);
        bar[BAR_WIDTH] = '\0';
        n = snprintf(line, sizeof(line), "%s [%s] %3" PRIu64 "%% %s / %s%s%s%s", label(phase),
                     bar, pct, d, tot, *r ? ", " : "", r, eta);
    } else {
        n = snprintf(line, sizeof(line), "%s %" PRIu64 "%% (%s of %s%s%s%s)", label(phase), pct,
                     d, tot, *r ? ", " : "", r, eta);
    }
    if (n < 0)
        return;
    if (prog.tty) {
        fprintf(stderr, "\r%s\033[K", line);
        prog.drawn = true;
    } else {
        fprintf(stderr, "%s: %s\n", cli_progname, line);
        prog.lined = true;
    }
}

void cli_progress_attach(struct mk_ctx *ctx)
{
    /* Tests see every progress report as a line instead of one every few seconds. */
    const char *interval = getenv("MK_TEST_PROGRESS_INTERVAL");

    prog.line_interval = interval && *interval ? strtod(interval, NULL) : LINE_INTERVAL;
    prog.tty = isatty(STDERR_FILENO) == 1;
    if (!cli_out.quiet)
        mk_ctx_set_progress(ctx, on_progress, NULL);
}

/* ---- JSON ---- */

static char *snake(const char *key)
{
    size_t n = strlen(key), o = 0;
    char *s = malloc(2 * n + 1);

    if (!s)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)key[i];

        if (isupper(c)) {
            if (o && (islower((unsigned char)key[i - 1]) || isdigit((unsigned char)key[i - 1])))
                s[o++] = '_';
            c = (unsigned char)tolower(c);
        }
        s[o++] = (char)c;
    }
    s[o] = '\0';
    return s;
}

json_t *cli_json_normalize(json_t *v)
{
    if (json_is_object(v)) {
        json_t *out = json_object(), *val;
        const char *key;

        json_object_foreach(v, key, val) {
            /* Users' own names (labels, properties) are data, not our keys. */
            bool data = !strcmp(key, "labels") || !strcmp(key, "properties");
            char *k = snake(key);

            if (k)
                json_object_set_new(out, k, data ? json_deep_copy(val) : cli_json_normalize(val));
            free(k);
        }
        return out;
    }
    if (json_is_array(v)) {
        json_t *out = json_array(), *val;
        size_t i;

        json_array_foreach(v, i, val)
            json_array_append_new(out, cli_json_normalize(val));
        return out;
    }
    if (json_is_real(v)) {
        double x = json_real_value(v) * 1000;
        return json_real((double)(long long)(x + (x >= 0 ? 0.5 : -0.5)) / 1000);
    }
    return json_incref(v);
}

json_t *cli_json_text(const char *s)
{
    json_t *v = json_string(s);
    char *copy;

    if (v || !s)
        return v;
    /* Not UTF-8 (a file name is any bytes): each byte of 0x80 and above shows as '?'. */
    if (!(copy = strdup(s)))
        return NULL;
    for (char *p = copy; *p; p++)
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    v = json_string(copy);
    free(copy);
    return v;
}

void cli_json_print(json_t *v, FILE *f)
{
    json_dumpf(v, f, JSON_INDENT(2) | JSON_REAL_PRECISION(12));
    fputc('\n', f);
    fflush(f);
}

void cli_json_result(json_t *result, const char *status)
{
    json_t *out;

    if (!result)
        result = json_object();
    out = cli_json_normalize(result);
    json_decref(result);
    if (json_is_object(out)) {
        if (cli_out.command)
            json_object_set_new(out, "command", json_string(cli_out.command));
        if (status)
            json_object_set_new(out, "status", json_string(status));
    }
    cli_progress_end();
    cli_json_print(out, stdout);
    json_decref(out);
    cli_out.json_done = true;
}

void cli_json_failure(const char *status, const char *message, const char *kind)
{
    json_t *out;

    if (!cli_out.json || cli_out.json_done)
        return;
    out = json_pack("{s:s?, s:s, s:{s:s, s:s?}}", "command", cli_out.command, "status", status,
                    "error", "message", message, "kind", kind);
    if (out)
        cli_json_print(out, stdout);
    json_decref(out);
    cli_out.json_done = true;
}
