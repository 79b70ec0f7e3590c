/* error.c - the one place TRAIL_E* codes become text. */
#include "trail.h"

TRAIL_API const char *trail_strerror(int err)
{
    switch (err) {
    case TRAIL_OK: return "success";
    case TRAIL_EINVAL: return "invalid argument";
    case TRAIL_ENOMEM: return "out of memory";
    case TRAIL_EIO: return "I/O error";
    case TRAIL_ECORRUPT: return "malformed or corrupt data";
    case TRAIL_ETOOBIG: return "value or record too large";
    case TRAIL_ENOSPC: return "spool or disk full";
    case TRAIL_ENORUN: return "no active run";
    case TRAIL_EACTIVE: return "a run is already active";
    case TRAIL_EDISABLED: return "trail is disabled (TRAIL_DISABLE)";
    case TRAIL_EVERSION: return "data from a newer format version";
    case TRAIL_EBUSY: return "locked by another process";
    case TRAIL_ENOTFOUND: return "not found";
    case TRAIL_EAMBIGUOUS: return "ambiguous reference";
    case TRAIL_EKEY: return "invalid key (1-250 characters of A-Z a-z 0-9 _ - . / space :)";
    case TRAIL_EVALUE: return "invalid value";
    case TRAIL_ESTORE: return "store error";
    case TRAIL_EAGAIN: return "try again";
    case TRAIL_EPROTO: return "protocol error";
    case TRAIL_EAUTH: return "authentication failed";
    case TRAIL_ETIMEDOUT: return "timed out";
    case TRAIL_ECLOSED: return "closed";
    case TRAIL_ENOTSUP: return "not supported";
    default: return "unknown error";
    }
}
