/* persisting._put: the put path's one C call, persisting_append_records,
 * without ctypes. A ctypes call costs about a microsecond before Go runs
 * (argument conversion, libffi); this METH_FASTCALL function costs a small
 * part of that (BENCHMARKS.md, session 15).
 *
 * It calls the function of the library _native.py loaded with ctypes: bind()
 * gets its address once, so there is one library and one Go runtime (this
 * module never links or opens libpersisting.so). Errors stay in Python:
 * append() returns the status code, and _native.py reads the PersistingError
 * and first-offset cells (per thread, allocated there) whose addresses it
 * passes in.
 *
 * Built against the limited API of CPython 3.10 (one abi3 build serves every
 * CPython >= 3.10), except on a free-threaded interpreter, which has none. */
#include <pyconfig.h> /* says whether the interpreter is free-threaded */
#ifndef Py_GIL_DISABLED
#define Py_LIMITED_API 0x030A0000
#endif
#include <Python.h>
#include <stdint.h>

typedef int (*append_records_fn)(uint64_t handle, const uint8_t *data, size_t length, int64_t *first_offset,
                                 void *error);

/* Written once by bind() when _native.py loads the library; a pointer store is
 * atomic on the platforms Go runs on, and bind() happens before any append. */
static append_records_fn append_records;

static PyObject *bind(PyObject *self, PyObject *address) {
    (void)self;
    void *fn = PyLong_AsVoidPtr(address);
    if (fn == NULL) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "bind: NULL function address");
        return NULL;
    }
    append_records = (append_records_fn)fn;
    Py_RETURN_NONE;
}

/* append(handle, data, first_address, error_address) -> status code */
static PyObject *append(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "append takes (handle, data, first_address, error_address)");
        return NULL;
    }
    if (append_records == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "persisting._put is not bound to libpersisting.so");
        return NULL;
    }
    unsigned long long handle = PyLong_AsUnsignedLongLong(args[0]);
    if (handle == (unsigned long long)-1 && PyErr_Occurred()) return NULL;
    char *data;
    Py_ssize_t length;
    if (PyBytes_AsStringAndSize(args[1], &data, &length) < 0) return NULL;
    void *first = PyLong_AsVoidPtr(args[2]);
    void *error = first ? PyLong_AsVoidPtr(args[3]) : NULL;
    if (first == NULL || error == NULL) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "append: NULL first or error address");
        return NULL;
    }
    int rc;
    /* The engine may block (back-pressure, a flush, an fsync): other threads
     * run meanwhile. `data` stays valid: the caller holds the bytes object,
     * and bytes are immutable. */
    Py_BEGIN_ALLOW_THREADS
    rc = append_records((uint64_t)handle, (const uint8_t *)data, (size_t)length, (int64_t *)first, error);
    Py_END_ALLOW_THREADS
    return PyLong_FromLong(rc);
}

static PyMethodDef methods[] = {
    {"bind", bind, METH_O, "bind(address): the address of the loaded library's persisting_append_records."},
    {"append", (PyCFunction)(void (*)(void))append, METH_FASTCALL,
     "append(handle, data, first_address, error_address) -> status: persisting_append_records, GIL released."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "persisting._put", "persisting_append_records without ctypes (see _put.c).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__put(void) {
    PyObject *m = PyModule_Create(&module);
#ifdef Py_GIL_DISABLED
    /* safe without the GIL: the only state is the function pointer bind() sets */
    if (m != NULL) PyUnstable_Module_SetGIL(m, Py_MOD_GIL_NOT_USED);
#endif
    return m;
}
