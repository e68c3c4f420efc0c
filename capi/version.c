#include "persisting.h"

// Kept in C so the returned string is static: a Go string would move with the GC.
const char* persisting_version(void) { return "0.1.0"; }
