/* output.h: one convention for what every command shows (progress, -q/-v/--json, results
 * and errors), shared by all commands so that they look and parse alike.
 *
 * How a command uses it:
 * - -q/--quiet, -v/--verbose and --json: main.c notes them in cli_out before the command
 *   runs (up to a "--"), so a command need not parse them; accept them in its own parser
 *   with cli_out_arg(arg) (true when consumed) or, with getopt, CLI_OUT_LONGOPTS and
 *   cli_out_getopt(c) in the switch.
 * - struct mk_ctx *ctx = cli_ctx_new(cli_out.verbose) gives a context whose log lines never
 *   glue to a progress bar; cli_progress_attach(ctx) draws the library's
 *   mk_progress(ctx, phase, done, total) calls: a bar on a terminal, a line every few
 *   seconds otherwise, nothing with -q. total 0 means a step without a byte count (e.g.
 *   "create": "creating image... 12 s"). Speed counts only the bytes moved since the phase
 *   began (a resumed upload's skipped bytes are not speed).
 * - Before printing a result: cli_progress_end().
 * - Success with --json: cli_json_result(obj, "ok") prints obj with "command" and "status"
 *   added, keys in snake_case and numbers without float noise, and takes obj.
 * - Failure: return cli_ctx_error(ctx), cli_error(...) or cli_usage_error(...): one line on
 *   stderr and, with --json, {"command", "status": "failed" | "usage_error" |
 *   "interrupted", "error": {"message", "kind"}} on stdout. A cancelled context (Ctrl-C)
 *   exits 130; cli_out.interrupt_hint adds advice ("run the same command again to resume").
 * The status vocabulary: "ok", "failed" (the work or a check failed), "usage_error",
 * "interrupted". */
#ifndef MK_CLI_OUTPUT_H
#define MK_CLI_OUTPUT_H

#include <getopt.h>
#include <stdbool.h>

#include <stdio.h>

#include <jansson.h>

struct mk_ctx;

struct cli_output {
    const char *command;        /* "build"; NULL before dispatch */
    bool json, quiet, verbose;
    bool json_done;             /* a JSON document went to stdout already */
    const char *interrupt_hint; /* said after "interrupted" */
};
extern struct cli_output cli_out;

enum { CLI_OUT_OPT_JSON = 0x4a53 };
#define CLI_OUT_LONGOPTS                                                                     \
    {"json", no_argument, NULL, CLI_OUT_OPT_JSON}, {"quiet", no_argument, NULL, 'q'},         \
        {"verbose", no_argument, NULL, 'v'}
#define CLI_OUT_SHORTOPTS "qv"

/* True when (arg) is -q, --quiet, -v, --verbose or --json (and notes it). */
bool cli_out_arg(const char *arg);
/* The same for a getopt result; true when consumed. */
bool cli_out_getopt(int c);
/* Notes the -q/-v/--json of a command line up to "--" (main.c). */
void cli_out_scan(const char *command, int argc, char **argv);

void cli_progress_attach(struct mk_ctx *ctx);
/* Ends a progress line, so that what follows starts on a line of its own. */
void cli_progress_end(void);
/* Erases a drawn bar (before a log line); it is redrawn on the next update. */
void cli_progress_erase(void);

/* Prints (result) (taken) as the command's JSON result with (status) on stdout. */
void cli_json_result(json_t *result, const char *status);
/* The failure object, for cli_error() and friends. */
void cli_json_failure(const char *status, const char *message, const char *kind);
/* (v) with snake_case keys and reals rounded to 3 decimals (new reference). */
json_t *cli_json_normalize(json_t *v);
/* A JSON string of (s), which need not be UTF-8 (file names): other bytes become '?'. */
json_t *cli_json_text(const char *s);
/* Prints (v) as the JSON style wants it (indent 2, clean numbers) and a newline. */
void cli_json_print(json_t *v, FILE *f);

#endif
