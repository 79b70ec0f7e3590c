/* core.c - the record codec compiled into the shim with the shim's flags (hidden, not
 * instrumented): common/record.c as it is, its CRC-32C included (the crc32 instruction where the
 * CPU has one; chosen at the shim's init by tr_crc32c_init, no constructor needed). */
#include "record.c"
