/* persisting._put: the put path's one C call, persisting_append_records,
 * without ctypes and without a Python frame around it. A ctypes call costs
 * about a microsecond before Go runs (argument conversion, libffi); this
 * module's METH_FASTCALL functions cost a small part of that (BENCHMARKS.md,
 * session 15).
 *
 * It calls the function of the library _native.py loaded with ctypes: bind()
 * gets its address once, so there is one library and one Go runtime (this
 * module never links or opens libpersisting.so). What an error means stays in
 * Python: a failed call hands (status, code, message, first offset) to the
 * on_error function bind() was given, which raises. Which values go to marshal
 * as they are is Python's too: put() asks the `plain` set bind() was given.
 *
 * Built against the limited API of CPython 3.10 (one abi3 build serves every
 * CPython >= 3.10), except on a free-threaded interpreter, which has none. */
#include <pyconfig.h> /* says whether the interpreter is free-threaded */
#ifndef Py_GIL_DISABLED
#define Py_LIMITED_API 0x030A0000
#endif
#include <Python.h>
#include <stdint.h>

typedef struct {
    int code;
    char *message;
} PersistingError; /* include/persisting.h */

typedef int (*append_records_fn)(uint64_t handle, const uint8_t *data, size_t length, int64_t *first_offset,
                                 PersistingError *error);
typedef void (*error_release_fn)(PersistingError *error);

/* Set by bind() when _native.py loads the library (under the GIL, before any
 * append), cleared by unbind() in a forked child. */
static append_records_fn append_records;
static error_release_fn error_release;
static PyObject *on_error; /* (status, code, message bytes or None, first) -> raises */
static PyObject *encode;   /* _encode.encode_record: a record that is not all plain values */
static PyObject *plain;    /* _encode._PLAIN: the types marshal writes as they are */
static PyObject *dumps;    /* marshal.dumps */
static PyObject *marshal_version;

/* *slot = value (a new reference), dropping the old one: Py_XSETREF is not in the limited API */
static void set_ref(PyObject **slot, PyObject *value) {
    PyObject *old = *slot;
    *slot = value;
    Py_XDECREF(old);
}

static PyObject *bind(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "bind takes (append_address, release_address, on_error, encode, plain)");
        return NULL;
    }
    void *append = PyLong_AsVoidPtr(args[0]);
    void *release = append ? PyLong_AsVoidPtr(args[1]) : NULL;
    if (append == NULL || release == NULL) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "bind: NULL function address");
        return NULL;
    }
    Py_INCREF(args[2]);
    Py_INCREF(args[3]);
    Py_INCREF(args[4]);
    set_ref(&on_error, args[2]);
    set_ref(&encode, args[3]);
    set_ref(&plain, args[4]);
    append_records = (append_records_fn)append;
    error_release = (error_release_fn)release;
    Py_RETURN_NONE;
}

static PyObject *unbind(PyObject *self, PyObject *unused) {
    (void)self;
    (void)unused;
    append_records = NULL; /* the Go runtime does not survive fork(): on_error says so */
    Py_RETURN_NONE;
}

/* Appends `data` (a bytes object the caller holds): the first row's offset. */
static PyObject *append_bytes(PyObject *handle_obj, PyObject *data_obj) {
    if (append_records == NULL) {
        if (on_error == NULL) {
            PyErr_SetString(PyExc_RuntimeError, "persisting._put is not bound to libpersisting.so");
            return NULL;
        }
        return PyObject_CallFunction(on_error, "iiOi", -1, 0, Py_None, 0);
    }
    unsigned long long handle = PyLong_AsUnsignedLongLong(handle_obj);
    if (handle == (unsigned long long)-1 && PyErr_Occurred()) return NULL;
    char *data;
    Py_ssize_t length;
    if (PyBytes_AsStringAndSize(data_obj, &data, &length) < 0) return NULL;
    PersistingError error = {0, NULL};
    int64_t first = 0;
    int rc;
    /* The engine may block (back-pressure, a flush, an fsync): other threads
     * run meanwhile. `data` stays valid: bytes are immutable and held. */
    Py_BEGIN_ALLOW_THREADS
    rc = append_records((uint64_t)handle, (const uint8_t *)data, (size_t)length, &first, &error);
    Py_END_ALLOW_THREADS
    if (rc == 0) return PyLong_FromLongLong(first);
    int code = error.code ? error.code : rc;
    PyObject *message = error.message ? PyBytes_FromString(error.message) : (Py_INCREF(Py_None), Py_None);
    error_release(&error); /* zeroes it */
    if (message == NULL) return NULL;
    PyObject *result = PyObject_CallFunction(on_error, "iiOL", rc, code, message, (long long)first);
    Py_DECREF(message);
    return result;
}

/* append(handle, data) -> the first row's offset */
static PyObject *append(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "append takes (handle, data)");
        return NULL;
    }
    return append_bytes(args[0], args[1]);
}

/* The record in the record encoding: marshal's as it is when it is a dict of
 * plain values marshal can write, else what `encode` makes of it. */
static PyObject *encoded(PyObject *record) {
    if (plain == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "persisting._put is not bound to libpersisting.so");
        return NULL;
    }
    int all_plain = PyDict_CheckExact(record);
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (all_plain && PyDict_Next(record, &pos, &key, &value)) {
        all_plain = PySet_Contains(plain, (PyObject *)Py_TYPE(value));
        if (all_plain < 0) return NULL;
    }
    if (all_plain) {
        PyObject *data = PyObject_CallFunctionObjArgs(dumps, record, marshal_version, NULL);
        if (data != NULL || !PyErr_ExceptionMatches(PyExc_ValueError)) return data;
        PyErr_Clear(); /* a key marshal cannot write: encode() tags it */
    }
    return PyObject_CallFunctionObjArgs(encode, record, NULL);
}

/* put(handle, record) -> the first row's offset: encodes, then appends */
static PyObject *put(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "put takes (handle, record)");
        return NULL;
    }
    PyObject *data = encoded(args[1]);
    if (data == NULL) return NULL;
    PyObject *first = append_bytes(args[0], data);
    Py_DECREF(data);
    return first;
}

static PyMethodDef methods[] = {
    {"bind", (PyCFunction)(void (*)(void))bind, METH_FASTCALL,
     "bind(append_address, release_address, on_error, encode, plain): the loaded library's "
     "persisting_append_records and persisting_error_release, and Python's error and encoding rules."},
    {"unbind", unbind, METH_NOARGS, "unbind(): calls fail through on_error (status -1): a forked child."},
    {"append", (PyCFunction)(void (*)(void))append, METH_FASTCALL,
     "append(handle, data) -> first offset: persisting_append_records, GIL released."},
    {"put", (PyCFunction)(void (*)(void))put, METH_FASTCALL,
     "put(handle, record) -> first offset: the record encoded, then appended."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "persisting._put", "persisting_append_records without ctypes (see _put.c).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__put(void) {
    PyObject *marshal = PyImport_ImportModule("marshal");
    if (marshal == NULL) return NULL;
    set_ref(&dumps, PyObject_GetAttrString(marshal, "dumps"));
    Py_DECREF(marshal);
    if (dumps == NULL) return NULL;
    if (marshal_version == NULL && (marshal_version = PyLong_FromLong(4)) == NULL) return NULL;
    PyObject *m = PyModule_Create(&module);
#ifdef Py_GIL_DISABLED
    /* the module state is set by bind() before any call and only read after */
    if (m != NULL) PyUnstable_Module_SetGIL(m, Py_MOD_GIL_NOT_USED);
#endif
    return m;
}
