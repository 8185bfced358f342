/* stackctl.lb._relay: the Python face of the native TCP data path (see relay.h for the layout).
 *
 * A Relay owns one listening socket (created and bound by Python, which keeps the socket object
 * and closes it) and runs relay_loop.c on its own thread with the GIL released.  Every method is a
 * command: queued under the mutex, the loop woken through an eventfd, and the caller waits (GIL
 * released) until the loop has run it, so the loop's structures are only ever touched by the loop.
 * The loop reports passive failures and drained backends as events: an eventfd becomes readable
 * (Python watches it with loop.add_reader) and events() takes the queued records.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "proxy_header.h"
#include "relay.h"

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* ---------------------------------------------------------------- argument helpers */

static int parse_address(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len) {
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        *len = sizeof *in;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        *len = sizeof *in6;
        return 0;
    }
    PyErr_Format(PyExc_ValueError, "not an IP address: %s", host);
    return -1;
}

/* Seconds from Python to the relay's milliseconds: never overflows the int (config.py bounds durations to a
   week; this clamps whatever reaches here), at least 1 ms; NaN is refused. */
#define RELAY_MAX_MS 604800000  /* 7 days */
static int seconds_to_ms(double seconds, int *ms) {
    if (isnan(seconds)) {
        PyErr_SetString(PyExc_ValueError, "a timeout cannot be NaN");
        return -1;
    }
    if (seconds * 1000.0 < 1.0)
        *ms = 1;
    else if (seconds * 1000.0 >= (double)RELAY_MAX_MS)
        *ms = RELAY_MAX_MS;
    else
        *ms = (int)(seconds * 1000.0);
    return 0;
}

static int parse_options(PyObject *args, PyObject *kwds, int *fd, options *opt, int with_fd) {
    static char *with[] = {"fd", "max_connections", "connect_timeout", "idle_timeout", "proxy_protocol", NULL};
    double connect_timeout, idle_timeout;
    int ok;
    if (with_fd)
        ok = PyArg_ParseTupleAndKeywords(args, kwds, "i$iddi", with, fd, &opt->max_connections,
                                         &connect_timeout, &idle_timeout, &opt->proxy_version);
    else
        ok = PyArg_ParseTupleAndKeywords(args, kwds, "$iddi", with + 1, &opt->max_connections,
                                         &connect_timeout, &idle_timeout, &opt->proxy_version);
    if (!ok)
        return -1;
    if (opt->proxy_version < 0 || opt->proxy_version > 2 || opt->max_connections < 1) {
        PyErr_SetString(PyExc_ValueError, "proxy_protocol must be 0, 1 or 2 and max_connections positive");
        return -1;
    }
    if (seconds_to_ms(connect_timeout, &opt->connect_ms) < 0 || seconds_to_ms(idle_timeout, &opt->idle_ms) < 0)
        return -1;
    return 0;
}

/* ---------------------------------------------------------------- the Relay type */

typedef struct {
    PyObject_HEAD
    relay r;
    pthread_t thread;
    int ready;    /* relay_init succeeded */
    int running;  /* the loop thread runs (started, not joined) */
} RelayObject;

static void *loop_thread(void *arg) {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);  /* signals are the Python main thread's business */
    relay_run(arg);
    return NULL;
}

/* Run one command on the loop thread and wait for it (GIL released); directly once it stopped. */
static void run_command(RelayObject *self, int kind, void *arg, long value) {
    cmd c = {.kind = kind, .arg = arg, .result = value};
    if (!self->running) {
        relay_command(&self->r, &c);
        return;
    }
    relay *r = &self->r;
    Py_BEGIN_ALLOW_THREADS
    pthread_mutex_lock(&r->mu);
    c.next = r->cmds;
    r->cmds = &c;
    pthread_mutex_unlock(&r->mu);
    uint64_t one = 1;
    (void)!write(r->cmdfd, &one, sizeof one);
    pthread_mutex_lock(&r->mu);
    while (!c.done)
        pthread_cond_wait(&r->cv, &r->mu);
    pthread_mutex_unlock(&r->mu);
    Py_END_ALLOW_THREADS
}

static int Relay_init(RelayObject *self, PyObject *args, PyObject *kwds) {
    int fd;
    options opt;
    if (self->ready) {
        PyErr_SetString(PyExc_RuntimeError, "Relay already initialised");
        return -1;
    }
    if (parse_options(args, kwds, &fd, &opt, 1) < 0)
        return -1;
    if (relay_init(&self->r, fd, &opt) < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        relay_free(&self->r);
        return -1;
    }
    self->ready = 1;
    int err = pthread_create(&self->thread, NULL, loop_thread, &self->r);
    if (err != 0) {
        errno = err;
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    self->running = 1;
    return 0;
}

static PyObject *Relay_shutdown(RelayObject *self, PyObject *unused) {
    if (self->running) {
        run_command(self, CMD_QUIT, NULL, 0);
        Py_BEGIN_ALLOW_THREADS
        pthread_join(self->thread, NULL);
        Py_END_ALLOW_THREADS
        self->running = 0;
    }
    Py_RETURN_NONE;
}

static void Relay_dealloc(RelayObject *self) {
    if (self->running) {
        cmd c = {.kind = CMD_QUIT};
        pthread_mutex_lock(&self->r.mu);
        c.next = self->r.cmds;
        self->r.cmds = &c;
        pthread_mutex_unlock(&self->r.mu);
        uint64_t one = 1;
        (void)!write(self->r.cmdfd, &one, sizeof one);
        pthread_join(self->thread, NULL);
    }
    if (self->ready)
        relay_free(&self->r);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int check_ready(RelayObject *self) {
    if (!self->ready) {
        PyErr_SetString(PyExc_RuntimeError, "Relay not initialised");
        return -1;
    }
    return 0;
}

static PyObject *Relay_set_backends(RelayObject *self, PyObject *items) {
    if (check_ready(self) < 0)
        return NULL;
    PyObject *seq = PySequence_Fast(items, "set_backends expects a sequence of (id, host, port, state)");
    if (seq == NULL)
        return NULL;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(seq);
    backends_arg arg = {.items = PyMem_Calloc((size_t)count + 1, sizeof(backend_item)), .count = (int)count};
    if (arg.items == NULL) {
        Py_DECREF(seq);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        backend_item *item = &arg.items[i];
        const char *host;
        int port;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, i), "lsii", &item->id, &host, &port, &item->state) ||
            parse_address(host, port, &item->addr, &item->addrlen) < 0) {
            PyMem_Free(arg.items);
            Py_DECREF(seq);
            return NULL;
        }
    }
    Py_DECREF(seq);
    run_command(self, CMD_BACKENDS, &arg, 0);
    PyMem_Free(arg.items);
    PyObject *freed = PyList_New(0);
    for (int i = 0; freed != NULL && i < arg.nfreed; i++) {
        PyObject *id = PyLong_FromLong(arg.freed[i]);
        if (id == NULL || PyList_Append(freed, id) < 0)
            Py_CLEAR(freed);
        Py_XDECREF(id);
    }
    free(arg.freed);
    return freed;
}

static PyObject *Relay_set_options(RelayObject *self, PyObject *args, PyObject *kwds) {
    options opt;
    if (check_ready(self) < 0 || parse_options(args, kwds, NULL, &opt, 0) < 0)
        return NULL;
    run_command(self, CMD_OPTIONS, &opt, 0);
    Py_RETURN_NONE;
}

static PyObject *Relay_close_backend(RelayObject *self, PyObject *id) {
    long value = PyLong_AsLong(id);
    if (value == -1 && PyErr_Occurred())
        return NULL;
    if (check_ready(self) < 0)
        return NULL;
    run_command(self, CMD_CLOSE_BACKEND, NULL, value);
    Py_RETURN_NONE;
}

static PyObject *Relay_simple(RelayObject *self, int kind) {
    if (check_ready(self) < 0)
        return NULL;
    run_command(self, kind, NULL, 0);
    Py_RETURN_NONE;
}

static PyObject *Relay_stop_accepting(RelayObject *self, PyObject *unused) {
    return Relay_simple(self, CMD_STOP_ACCEPTING);
}

static PyObject *Relay_close_sessions(RelayObject *self, PyObject *unused) {
    return Relay_simple(self, CMD_CLOSE_ALL);
}

static PyObject *Relay_stats(RelayObject *self, PyObject *unused) {
    if (check_ready(self) < 0)
        return NULL;
    stats_arg arg = {0};
    run_command(self, CMD_STATS, &arg, 0);
    PyObject *backends = PyDict_New();
    for (int i = 0; backends != NULL && i < arg.count; i++) {
        uint64_t *row = arg.be + 4 * i;
        PyObject *key = PyLong_FromLong(arg.ids[i]);
        PyObject *value = Py_BuildValue("(KKKK)", row[0], row[1], row[2], row[3]);
        if (key == NULL || value == NULL || PyDict_SetItem(backends, key, value) < 0)
            Py_CLEAR(backends);
        Py_XDECREF(key);
        Py_XDECREF(value);
    }
    free(arg.ids);
    free(arg.be);
    if (backends == NULL)
        return NULL;
    return Py_BuildValue("{sKsKsKsKsKsKsN}", "connections", arg.connections, "active", arg.active,
                         "rejected", arg.rejected, "no_backend", arg.no_backend, "bytes_in", arg.bytes_in,
                         "bytes_out", arg.bytes_out, "backends", backends);
}

static PyObject *Relay_events(RelayObject *self, PyObject *unused) {
    if (check_ready(self) < 0)
        return NULL;
    relay *r = &self->r;
    uint64_t count;
    (void)!read(r->evfd, &count, sizeof count);
    pthread_mutex_lock(&r->mu);
    relay_event *events = r->events;
    int n = r->nevents;
    r->events = NULL;
    r->nevents = r->capevents = 0;
    pthread_mutex_unlock(&r->mu);
    PyObject *list = PyList_New(n);
    for (int i = 0; list != NULL && i < n; i++) {
        PyObject *item = Py_BuildValue("(ll)", events[i].kind, events[i].id);
        if (item == NULL)
            Py_CLEAR(list);
        else
            PyList_SET_ITEM(list, i, item);
    }
    free(events);
    return list;
}

static PyObject *Relay_event_fd(RelayObject *self, void *closure) {
    if (check_ready(self) < 0)
        return NULL;
    return PyLong_FromLong(self->r.evfd);
}

static PyMethodDef Relay_methods[] = {
    {"set_backends", (PyCFunction)Relay_set_backends, METH_O,
     "Replace the round-robin list with [(id, ip, port, state)]; returns ids dropped without sessions."},
    {"set_options", (PyCFunction)(void (*)(void))Relay_set_options, METH_VARARGS | METH_KEYWORDS,
     "New max_connections, connect_timeout, idle_timeout (seconds) and proxy_protocol (0, 1, 2)."},
    {"close_backend", (PyCFunction)Relay_close_backend, METH_O, "Close every session of one backend."},
    {"stop_accepting", (PyCFunction)Relay_stop_accepting, METH_NOARGS,
     "Stop watching the listening socket (the caller closes it afterwards)."},
    {"close_sessions", (PyCFunction)Relay_close_sessions, METH_NOARGS, "Close every session."},
    {"stats", (PyCFunction)Relay_stats, METH_NOARGS, "Listener counters and {id: (connections, active, "
     "bytes_in, bytes_out)} per backend."},
    {"events", (PyCFunction)Relay_events, METH_NOARGS, "[(kind, backend id)] reported since the last call."},
    {"shutdown", (PyCFunction)Relay_shutdown, METH_NOARGS, "Close every session and stop the loop thread."},
    {NULL}
};

static PyGetSetDef Relay_getset[] = {
    {"event_fd", (getter)Relay_event_fd, NULL, "Readable when events() has something.", NULL},
    {NULL}
};

static PyTypeObject RelayType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "stackctl.lb._relay.Relay",
    .tp_doc = "Relay(fd, *, max_connections, connect_timeout, idle_timeout, proxy_protocol): a native "
              "TCP relay loop on its own thread for one listening socket.",
    .tp_basicsize = sizeof(RelayObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Relay_init,
    .tp_dealloc = (destructor)Relay_dealloc,
    .tp_methods = Relay_methods,
    .tp_getset = Relay_getset,
};

/* ---------------------------------------------------------------- module */

static PyObject *module_proxy_header(PyObject *module, PyObject *args) {
    int version, sport, dport;
    const char *shost, *dhost;
    if (!PyArg_ParseTuple(args, "isisi", &version, &shost, &sport, &dhost, &dport))
        return NULL;
    if (version != 1 && version != 2) {
        PyErr_SetString(PyExc_ValueError, "version must be 1 or 2");
        return NULL;
    }
    struct sockaddr_storage src, dst;
    socklen_t slen, dlen;
    if (parse_address(shost, sport, &src, &slen) < 0 || parse_address(dhost, dport, &dst, &dlen) < 0)
        return NULL;
    char out[128];
    int n = proxy_header(version, (struct sockaddr *)&src, (struct sockaddr *)&dst, out);
    return PyBytes_FromStringAndSize(out, n);
}

static PyMethodDef module_methods[] = {
    {"proxy_header", module_proxy_header, METH_VARARGS,
     "proxy_header(version, src_ip, src_port, dst_ip, dst_port): the header the relay sends (1 or 2)."},
    {NULL}
};

static struct PyModuleDef relay_module = {
    PyModuleDef_HEAD_INIT, "stackctl.lb._relay", "The balancer's native TCP data path.", -1, module_methods,
};

PyMODINIT_FUNC PyInit__relay(void) {
    if (PyType_Ready(&RelayType) < 0)
        return NULL;
    PyObject *module = PyModule_Create(&relay_module);
    if (module == NULL)
        return NULL;
    Py_INCREF(&RelayType);
    if (PyModule_AddObject(module, "Relay", (PyObject *)&RelayType) < 0 ||
        PyModule_AddIntConstant(module, "EV_FAILED", EV_FAILED) < 0 ||
        PyModule_AddIntConstant(module, "EV_DRAINED", EV_DRAINED) < 0 ||
        PyModule_AddIntConstant(module, "PENDING_LIMIT", RELAY_PENDING_LIMIT) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
