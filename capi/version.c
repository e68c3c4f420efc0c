#include "persisting.h"

// build.sh defines PERSISTING_VERSION_STRING from python/persisting/_version.py,
// the one source of the version; a build that bypasses it says so, and the
// Python package refuses to load it.
#ifndef PERSISTING_VERSION_STRING
#define PERSISTING_VERSION_STRING "0.0.0+unversioned"
#endif

// Kept in C so the returned string is static: a Go string would move with the GC.
const char* persisting_version(void) { return PERSISTING_VERSION_STRING; }
