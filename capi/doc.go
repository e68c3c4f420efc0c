// Command capi is built with -buildmode=c-shared into libpersisting.so: the C
// interface declared in include/persisting.h. Each exported function is a thin
// translation onto package engine: it checks its pointers, recovers any panic,
// and turns a Go error into a status code plus a message in a PersistingError.
//
// Memory rules (cgo): no Go pointer is kept by C after a call returns. Strings
// handed to C are malloc'd; Arrow buffers handed to C come from a C allocator
// (mallocator) or were imported from C in the first place.
package main
