/* Native fast path of DirectPort's grouped accesses (optional; see impl/memory.py).

Why: a CPython round trip spends most of its time in interpreter overhead around
each access (a struct call is ~70 ns, a Python spin loop iteration more), not in
the memory. These functions do the *same accesses, in the same order* as the
InstrumentedPort decomposition of each grouped operation, in one C call:

  call:           cmd_type, gpa, prefetch=0, ret=-1, wmb, go  |  poll done == go (n reads)
                  |  if seen: rmb, ret
  timed_call:     call, timed with CLOCK_MONOTONIC (time.monotonic's clock) on either
                  side, and the host's Reply built here: the hardened host's whole
                  common-case command without the interpreter (see impl/host.py)
  await_command:  poll go not in {0, last} (n reads)  |  if seen: rmb, cmd_type, gpa
  complete:       ret, wmb, done
  poll_eq_i32 / poll_ne_i32: n reads of one i32 field

Each function takes the mailbox as a writable buffer (a memoryview of the shared
mapping), so a released mapping raises instead of faulting. Shared fields are
read and written through volatile pointers (each access happens, in program
order, exactly once); wmb/rmb are release/acquire fences (compiler barriers on
x86-TSO, dmb on Arm). Little-endian layout only: the module refuses to import on
a big-endian machine and the pure-Python path is used.
*/
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <time.h>

#define OFF_CMD_TYPE 0x00
#define OFF_GPA 0x08
#define OFF_PREFETCH 0x10
#define OFF_RET 0x14
#define OFF_GO 0x18
#define OFF_DONE 0x1C
#define MIN_SIZE 0x2000

#if defined(__x86_64__) || defined(__i386__)
#define CPU_RELAX() __builtin_ia32_pause()
#elif defined(__aarch64__) || defined(__arm__)
#define CPU_RELAX() __asm__ __volatile__("yield" ::: "memory")
#else
#define CPU_RELAX() ((void)0)
#endif

#define WMB() __atomic_thread_fence(__ATOMIC_RELEASE)
#define RMB() __atomic_thread_fence(__ATOMIC_ACQUIRE)

#define I32(base, off) (*(volatile int32_t *)((char *)(base) + (off)))
#define U64(base, off) (*(volatile uint64_t *)((char *)(base) + (off)))

static int get_mailbox(PyObject *obj, Py_buffer *view) {
    if (PyObject_GetBuffer(obj, view, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0)
        return -1;
    if (view->len < MIN_SIZE) {
        PyBuffer_Release(view);
        PyErr_Format(PyExc_ValueError, "mailbox must be at least %d bytes", MIN_SIZE);
        return -1;
    }
    return 0;
}

static int arg_count(Py_ssize_t nargs, Py_ssize_t want, const char *name) {
    if (nargs != want) {
        PyErr_Format(PyExc_TypeError, "%s() takes %zd arguments (%zd given)", name, want, nargs);
        return -1;
    }
    return 0;
}

static int field_offset(PyObject *o, Py_ssize_t *off) {
    *off = PyLong_AsSsize_t(o);
    if (*off == -1 && PyErr_Occurred())
        return -1;
    if (*off < 0 || *off > MIN_SIZE - 4 || (*off & 3)) {
        PyErr_Format(PyExc_ValueError, "offset %zd is not an aligned i32 field of the mailbox", *off);
        return -1;
    }
    return 0;
}

/* poll_eq_i32(buf, off, want, n) -> bool */
static PyObject *poll_eq_i32(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    Py_buffer v;
    Py_ssize_t off;
    if (arg_count(nargs, 4, "poll_eq_i32") < 0 || field_offset(args[1], &off) < 0)
        return NULL;
    long want = PyLong_AsLong(args[2]);
    long n = PyLong_AsLong(args[3]);
    if (PyErr_Occurred() || get_mailbox(args[0], &v) < 0)
        return NULL;
    int hit = 0;
    for (long i = 0; i < n; i++) {
        if (I32(v.buf, off) == (int32_t)want) {
            hit = 1;
            break;
        }
        CPU_RELAX();
    }
    PyBuffer_Release(&v);
    return PyBool_FromLong(hit);
}

/* poll_ne_i32(buf, off, a, b, n) -> int | None */
static PyObject *poll_ne_i32(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    Py_buffer v;
    Py_ssize_t off;
    if (arg_count(nargs, 5, "poll_ne_i32") < 0 || field_offset(args[1], &off) < 0)
        return NULL;
    long a = PyLong_AsLong(args[2]);
    long b = PyLong_AsLong(args[3]);
    long n = PyLong_AsLong(args[4]);
    if (PyErr_Occurred() || get_mailbox(args[0], &v) < 0)
        return NULL;
    for (long i = 0; i < n; i++) {
        int32_t x = I32(v.buf, off);
        if (x != (int32_t)a && x != (int32_t)b) {
            PyBuffer_Release(&v);
            return PyLong_FromLong(x);
        }
        CPU_RELAX();
    }
    PyBuffer_Release(&v);
    Py_RETURN_NONE;
}

/* cmd_type, gpa, prefetch=0, ret=-1, wmb, go; then up to n reads of done. If done == go:
 * rmb, *ret = ret, and 1; else 0. (call and timed_call) */
static int publish_poll(void *m, uint64_t cmd, uint64_t gpa, int32_t go, long n, int32_t *ret) {
    U64(m, OFF_CMD_TYPE) = cmd;
    U64(m, OFF_GPA) = gpa;
    I32(m, OFF_PREFETCH) = 0;
    I32(m, OFF_RET) = -1;
    WMB();
    I32(m, OFF_GO) = go;
    for (long i = 0; i < n; i++) {
        if (I32(m, OFF_DONE) == go) {
            RMB();
            *ret = I32(m, OFF_RET);
            return 1;
        }
        CPU_RELAX();
    }
    return 0;
}

/* call(buf, cmd, gpa, go, n) -> ret | None: publish, then poll done == go */
static PyObject *call(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    Py_buffer v;
    if (arg_count(nargs, 5, "call") < 0)
        return NULL;
    unsigned long long cmd = PyLong_AsUnsignedLongLongMask(args[1]);
    unsigned long long gpa = PyLong_AsUnsignedLongLongMask(args[2]);
    long go = PyLong_AsLong(args[3]);
    long n = PyLong_AsLong(args[4]);
    if (PyErr_Occurred() || get_mailbox(args[0], &v) < 0)
        return NULL;
    int32_t ret;
    int seen = publish_poll(v.buf, (uint64_t)cmd, (uint64_t)gpa, (int32_t)go, n, &ret);
    PyBuffer_Release(&v);
    if (seen)
        return PyLong_FromLong(ret);
    Py_RETURN_NONE;
}

static PyObject *ok_str; /* "ok", interned at import */

/* time.monotonic(), computed as CPython computes it (ns since boot / 1e9) */
static double monotonic(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec) / 1e9;
}

/* timed_call(buf, reply_type, cmd, gpa, seq, n) -> reply_type("ok", ret, seq, elapsed) | start
 *
 * call with go = seq as i32; start is the monotonic time read before publishing. When
 * done == go within n reads, the reply (a tuple subtype with 4 fields, e.g. a
 * NamedTuple) is built without its Python __new__; otherwise the start time is
 * returned as a float, for the caller's deadline. */
static PyObject *timed_call(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    Py_buffer v;
    if (arg_count(nargs, 6, "timed_call") < 0)
        return NULL;
    PyTypeObject *rt = (PyTypeObject *)args[1];
    if (!PyType_Check(args[1]) || !PyType_IsSubtype(rt, &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "timed_call() needs a tuple subtype for the reply");
        return NULL;
    }
    unsigned long long cmd = PyLong_AsUnsignedLongLongMask(args[2]);
    unsigned long long gpa = PyLong_AsUnsignedLongLongMask(args[3]);
    unsigned long long seq = PyLong_AsUnsignedLongLongMask(args[4]);
    long n = PyLong_AsLong(args[5]);
    if (PyErr_Occurred() || get_mailbox(args[0], &v) < 0)
        return NULL;
    int32_t ret;
    double start = monotonic();
    int seen = publish_poll(v.buf, (uint64_t)cmd, (uint64_t)gpa, (int32_t)(uint32_t)seq, n, &ret);
    double elapsed = seen ? monotonic() - start : 0.0;
    PyBuffer_Release(&v);
    if (!seen)
        return PyFloat_FromDouble(start);
    PyObject *r = rt->tp_alloc(rt, 4);
    if (r == NULL)
        return NULL;
    PyObject *a = PyLong_FromLong(ret), *b = args[4], *c = PyFloat_FromDouble(elapsed);
    if (a == NULL || c == NULL) {
        Py_XDECREF(a);
        Py_XDECREF(c);
        Py_DECREF(r);
        return NULL;
    }
    Py_INCREF(ok_str);
    Py_INCREF(b);
    PyTuple_SET_ITEM(r, 0, ok_str);
    PyTuple_SET_ITEM(r, 1, a);
    PyTuple_SET_ITEM(r, 2, b);
    PyTuple_SET_ITEM(r, 3, c);
    return r;
}

/* await_command(buf, last, n) -> (go, cmd, gpa) | None */
static PyObject *await_command(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    Py_buffer v;
    if (arg_count(nargs, 3, "await_command") < 0)
        return NULL;
    long last = PyLong_AsLong(args[1]);
    long n = PyLong_AsLong(args[2]);
    if (PyErr_Occurred() || get_mailbox(args[0], &v) < 0)
        return NULL;
    void *m = v.buf;
    for (long i = 0; i < n; i++) {
        int32_t g = I32(m, OFF_GO);
        if (g != 0 && g != (int32_t)last) {
            RMB();
            uint64_t cmd = U64(m, OFF_CMD_TYPE);
            uint64_t gpa = U64(m, OFF_GPA);
            PyBuffer_Release(&v);
            return Py_BuildValue("(lKK)", (long)g, (unsigned long long)cmd, (unsigned long long)gpa);
        }
        CPU_RELAX();
    }
    PyBuffer_Release(&v);
    Py_RETURN_NONE;
}

/* complete(buf, ret, done): ret, wmb, done */
static PyObject *complete(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    Py_buffer v;
    if (arg_count(nargs, 3, "complete") < 0)
        return NULL;
    long ret = PyLong_AsLong(args[1]);
    long done = PyLong_AsLong(args[2]);
    if (PyErr_Occurred() || get_mailbox(args[0], &v) < 0)
        return NULL;
    I32(v.buf, OFF_RET) = (int32_t)ret;
    WMB();
    I32(v.buf, OFF_DONE) = (int32_t)done;
    PyBuffer_Release(&v);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"poll_eq_i32", (PyCFunction)(void (*)(void))poll_eq_i32, METH_FASTCALL, "n reads of an i32 field; True once it equals want"},
    {"poll_ne_i32", (PyCFunction)(void (*)(void))poll_ne_i32, METH_FASTCALL, "n reads of an i32 field; the first value not a or b, else None"},
    {"call", (PyCFunction)(void (*)(void))call, METH_FASTCALL, "publish a command (go last), then poll done == go; ret or None"},
    {"timed_call", (PyCFunction)(void (*)(void))timed_call, METH_FASTCALL, "call, timed; a reply tuple, or the start time if not done within n reads"},
    {"await_command", (PyCFunction)(void (*)(void))await_command, METH_FASTCALL, "poll go not in {0, last}; (go, cmd, gpa) or None"},
    {"complete", (PyCFunction)(void (*)(void))complete, METH_FASTCALL, "ret, write barrier, done"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_spin", "Native fast path of the mailbox's grouped accesses.", -1, methods};

PyMODINIT_FUNC PyInit__spin(void) {
    const uint16_t one = 1;
    if (*(const uint8_t *)&one != 1) {
        PyErr_SetString(PyExc_ImportError, "mhmailbox.impl._spin assumes a little-endian machine");
        return NULL;
    }
    ok_str = PyUnicode_InternFromString("ok");
    if (ok_str == NULL)
        return NULL;
    return PyModule_Create(&module);
}
