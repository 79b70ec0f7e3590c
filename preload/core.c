/* core.c - the record codec compiled into the shim: on-demand CRC table, SSE4.2 CRC-32C. */
/* the client core's record codec compiled into the shim: its CRC table is built on demand (shim
 * records can come from other libraries' constructors, before record.c's own constructor ran) and
 * CRC-32C uses the CPU's instruction where there is one (the table costs ~0.4 us per FILE record
 * on the hot path; same polynomial, same results). */
#define tr_crc32c tr_crc32c_table
#define constructor used /* record.c's table-building constructor: only run when needed */
#include "record.c"
#undef constructor
#undef tr_crc32c

uint32_t tr_crc32c(const void *buf, size_t len);
void shim_crc_ready(void);

static int have_hw;

void shim_crc_ready(void)
{
#if defined(__x86_64__)
    __builtin_cpu_init();
    have_hw = __builtin_cpu_supports("sse4.2");
#endif
    if (!have_hw && crc_table[1] == 0) crc_init();
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc_hw(const uint8_t *p, size_t len)
{
    uint64_t c = 0xFFFFFFFFu;
    for (; len >= 8; p += 8, len -= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c = __builtin_ia32_crc32di(c, v);
    }
    uint32_t c32 = (uint32_t)c;
    for (; len; p++, len--)
        c32 = __builtin_ia32_crc32qi(c32, *p);
    return c32 ^ 0xFFFFFFFFu;
}
#endif

uint32_t tr_crc32c(const void *buf, size_t len)
{
#if defined(__x86_64__)
    if (have_hw) return crc_hw(buf, len);
#endif
    if (crc_table[1] == 0) crc_init();
    return tr_crc32c_table(buf, len);
}
