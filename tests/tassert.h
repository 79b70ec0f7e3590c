/* tassert.h - the small assertion header used by every trail test. */
#ifndef TASSERT_H
#define TASSERT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trail.h"

/* The exit status of a test that cannot run here: ctest reports it "Skipped" (trail_test() in
 * tests/CMakeLists.txt sets SKIP_RETURN_CODE). */
#define T_SKIP_CODE 77

static int tassert_failures;
/* Cases T_RUN ran, how many of them skipped, and why the running case skipped ("" if not). */
__attribute__((unused)) static int tassert_cases, tassert_skips;
__attribute__((unused)) static char tassert_skip_reason[512];

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
            T_FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b, _a ? _a : "(null)", _b ? _b : "(null)");  \
    } while (0)
/* rc must be 0; otherwise the failure names the expression, the code and its text. */
#define T_OK(rc)                                                                                   \
    do {                                                                                           \
        int _rc = (int)(rc);                                                                       \
        if (_rc != 0) T_FAIL("%s: %d (%s), expected 0", #rc, _rc, trail_strerror(_rc));            \
    } while (0)
#define T_ASSERT_OK(rc)                                                                            \
    do {                                                                                           \
        int _before_ok = tassert_failures;                                                         \
        T_OK(rc);                                                                                  \
        if (tassert_failures != _before_ok) exit(1);                                               \
    } while (0)
/* rc must be exactly code (a TRAIL_E*); the failure prints both codes and their text. */
#define T_ERR(rc, code)                                                                            \
    do {                                                                                           \
        int _rc = (int)(rc), _want = (int)(code);                                                  \
        if (_rc != _want)                                                                          \
            T_FAIL("%s: %d (%s), expected %s: %d (%s)", #rc, _rc, trail_strerror(_rc), #code,      \
                   _want, trail_strerror(_want));                                                  \
    } while (0)

/* The whole test cannot run here: says why ("SKIP: reason") and exits T_SKIP_CODE. */
#define T_SKIP_TEST(...)                                                                           \
    do {                                                                                           \
        fprintf(stderr, "SKIP: ");                                                                 \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        exit(T_SKIP_CODE);                                                                         \
    } while (0)
/* The running case (a void function under T_RUN) cannot run here: returns from it, and T_RUN
 * reports "skip NAME: reason" instead of "ok". */
#define T_SKIP(...)                                                                                \
    do {                                                                                           \
        snprintf(tassert_skip_reason, sizeof tassert_skip_reason, __VA_ARGS__);                    \
        if (!tassert_skip_reason[0]) snprintf(tassert_skip_reason, 2, "?");                        \
        return;                                                                                    \
    } while (0)

/* Whether case name is among T_CASE's comma-separated names (all are when it is unset). */
__attribute__((unused)) static int tassert_chosen(const char *name)
{
    const char *only = getenv("T_CASE");
    size_t n = strlen(name);
    if (!only || !*only) return 1;
    for (const char *p = only; (p = strstr(p, name)) != NULL; p += n)
        if ((p == only || p[-1] == ',') && (p[n] == 0 || p[n] == ',')) return 1;
    return 0;
}

/* Runs one case and reports it: "ok   NAME", "FAIL NAME" or "skip NAME: reason". T_CASE=A,B
 * in the environment runs those cases alone (the others are neither run nor counted). */
#define T_RUN(fn)                                                                                  \
    do {                                                                                           \
        if (!tassert_chosen(#fn)) break;                                                           \
        int _before = tassert_failures;                                                            \
        tassert_skip_reason[0] = 0;                                                                \
        tassert_cases++;                                                                           \
        fn();                                                                                      \
        if (tassert_failures != _before)                                                           \
            fprintf(stderr, "FAIL %s\n", #fn);                                                     \
        else if (tassert_skip_reason[0]) {                                                         \
            tassert_skips++;                                                                       \
            fprintf(stderr, "skip %s: %s\n", #fn, tassert_skip_reason);                            \
        } else                                                                                     \
            fprintf(stderr, "ok   %s\n", #fn);                                                     \
        tassert_skip_reason[0] = 0;                                                                \
    } while (0)
/* main's return: 1 after a failure; T_SKIP_CODE when every case skipped (nothing was tested);
 * else 0. */
#define T_DONE()                                                                                   \
    (tassert_failures ? (fprintf(stderr, "%d failure(s)\n", tassert_failures), 1)                  \
     : tassert_cases > 0 && tassert_skips == tassert_cases                                         \
         ? (fprintf(stderr, "SKIP: all %d case(s) skipped\n", tassert_cases), T_SKIP_CODE)         \
         : 0)

#endif
