/* unit.h: a minimal unit-test harness. Each test file defines TESTS() listing its tests;
 * main() runs them, prints one line per test and "N passed, N failed" at the end. */
#ifndef MK_UNIT_H
#define MK_UNIT_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mk_private.h"

static int unit_failed_checks;

#define CHECK(cond)                                                                          \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "  %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);     \
            unit_failed_checks++;                                                            \
        }                                                                                    \
    } while (0)

#define CHECK_EQ(a, b)                                                                       \
    do {                                                                                     \
        long long va_ = (long long)(a), vb_ = (long long)(b);                                \
        if (va_ != vb_) {                                                                    \
            fprintf(stderr, "  %s:%d: %s == %lld, expected %s == %lld\n", __FILE__, __LINE__,\
                    #a, va_, #b, vb_);                                                       \
            unit_failed_checks++;                                                            \
        }                                                                                    \
    } while (0)

#define CHECK_STR(a, b)                                                                      \
    do {                                                                                     \
        const char *sa_ = (a), *sb_ = (b);                                                   \
        if (!sa_ || !sb_ || strcmp(sa_, sb_)) {                                              \
            fprintf(stderr, "  %s:%d: %s is \"%s\", expected \"%s\"\n", __FILE__, __LINE__,  \
                    #a, sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)");                         \
            unit_failed_checks++;                                                            \
        }                                                                                    \
    } while (0)

/* A call that must succeed; prints the context's message when it does not. */
#define CHECK_OK(ctx, call)                                                                  \
    do {                                                                                     \
        int r_ = (call);                                                                     \
        if (r_ != 0) {                                                                       \
            fprintf(stderr, "  %s:%d: %s returned %d: %s\n", __FILE__, __LINE__, #call, r_,  \
                    mk_errmsg(ctx));                                                         \
            unit_failed_checks++;                                                            \
        }                                                                                    \
    } while (0)

/* A call that must fail with (code) and a message containing (text). */
#define CHECK_FAIL(ctx, call, code, text)                                                    \
    do {                                                                                     \
        int r_ = (call);                                                                     \
        if (r_ != (code) || !strstr(mk_errmsg(ctx), (text))) {                               \
            fprintf(stderr, "  %s:%d: %s returned %d \"%s\", expected %d with \"%s\"\n",     \
                    __FILE__, __LINE__, #call, r_, mk_errmsg(ctx), (int)(code), (text));     \
            unit_failed_checks++;                                                            \
        }                                                                                    \
    } while (0)

struct unit_test {
    const char *name;
    void (*fn)(void);
};

#define UNIT_MAIN(...)                                                                       \
    int main(void)                                                                           \
    {                                                                                        \
        static const struct unit_test tests[] = {__VA_ARGS__};                               \
        int passed = 0, failed = 0;                                                          \
        for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {                      \
            int before = unit_failed_checks;                                                 \
            tests[i].fn();                                                                   \
            if (unit_failed_checks == before) {                                              \
                printf("ok   %s\n", tests[i].name);                                          \
                passed++;                                                                    \
            } else {                                                                         \
                printf("FAIL %s\n", tests[i].name);                                          \
                failed++;                                                                    \
            }                                                                                \
        }                                                                                    \
        printf("%d passed, %d failed\n", passed, failed);                                    \
        return failed ? 1 : 0;                                                               \
    }

#define UNIT_TEST(fn) {#fn, fn}

#endif
