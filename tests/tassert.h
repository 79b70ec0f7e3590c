/* tassert.h - the small assertion header used by every trail test. */
#ifndef TASSERT_H
#define TASSERT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tassert_failures;

#define T_FAIL(...)                                                                                \
    do {                                                                                           \
        fprintf(stderr, "%s:%d: FAIL: ", __FILE__, __LINE__);                                      \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        tassert_failures++;                                                                        \
    } while (0)

/* Fatal variants stop the test: later checks would only report noise. */
#define T_CHECK(c)                                                                                 \
    do {                                                                                           \
        if (!(c)) T_FAIL("%s", #c);                                                                \
    } while (0)
#define T_ASSERT(c)                                                                                \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            T_FAIL("%s", #c);                                                                      \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)
#define T_EQ_INT(a, b)                                                                             \
    do {                                                                                           \
        long long _a = (long long)(a), _b = (long long)(b);                                        \
        if (_a != _b) T_FAIL("%s == %s: %lld != %lld", #a, #b, _a, _b);                            \
    } while (0)
#define T_EQ_STR(a, b)                                                                             \
    do {                                                                                           \
        const char *_a = (a), *_b = (b);                                                           \
        if (!_a || !_b || strcmp(_a, _b) != 0)                                                     \
            T_FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b, _a ? _a : "(null)", _b ? _b : "(null)");   \
    } while (0)
#define T_RUN(fn)                                                                                  \
    do {                                                                                           \
        int _before = tassert_failures;                                                            \
        fn();                                                                                      \
        fprintf(stderr, "%s %s\n", tassert_failures == _before ? "ok  " : "FAIL", #fn);            \
    } while (0)
#define T_DONE() (tassert_failures ? (fprintf(stderr, "%d failure(s)\n", tassert_failures), 1) : 0)

#endif
