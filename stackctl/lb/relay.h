/* The native TCP data path of the balancer: shared declarations.
 *
 * relay_loop.c  the event loop (one native thread per listener): accept, connect, relay, timeouts;
 *               it owns every session and backend structure, and is the only code that touches them.
 * _relay.c      the Python type: commands to the loop (mutex + eventfd wake-up, the caller waits for
 *               completion with the GIL released) and events from it (mutex + eventfd read by the
 *               asyncio loop).  The loop thread never calls the Python API.
 * proxy_header.c  PROXY protocol headers (a leaf, proxy_header.h): used by the loop, exposed by _relay.c.
 */
#ifndef STACKCTL_RELAY_H
#define STACKCTL_RELAY_H

#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>

#define RELAY_SCRATCH (64 * 1024)          /* one read at most; the loop's shared read buffer */
#define RELAY_PENDING_LIMIT (256 * 1024)   /* client bytes kept for a replay until the backend answers */
#define RELAY_SMALL (16 * 1024)           /* smaller reads are held and written at the end of the batch */
#define RELAY_MAX_EVENTS 256
#define RELAY_ACCEPT_BATCH 64

/* Backend states as Python pushes them (the Pool decides; the loop only marks passive failures). */
enum { BE_NEVER = 0, BE_FALLBACK = 1, BE_ELIGIBLE = 2 };

/* Events from the loop to Python. */
enum { EV_FAILED = 1, EV_DRAINED = 2 };

/* Commands from Python to the loop. */
enum { CMD_BACKENDS = 1, CMD_OPTIONS, CMD_CLOSE_BACKEND, CMD_STOP_ACCEPTING, CMD_CLOSE_ALL, CMD_STATS, CMD_QUIT };

typedef struct backend {
    struct backend *next;              /* every backend the loop knows: listed and draining */
    long id;                           /* Python's handle */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    int state;                         /* BE_* */
    int listed;                        /* in the round-robin list; otherwise draining */
    int refs;                          /* sessions pointing at it (connecting or attached) */
    uint64_t connections, active, bytes_in, bytes_out;
} backend;

typedef struct {
    int fd;
    uint8_t rd;      /* may have bytes (edge-triggered readiness, cleared at EAGAIN or a short read) */
    uint8_t wr;      /* may accept bytes */
    uint8_t eof;     /* read EOF seen */
    uint8_t shut;    /* our shutdown(SHUT_WR) done */
    uint8_t hup;     /* the peer's FIN was reported: read until EOF, a short read proves nothing */
} side;

typedef struct {
    char *data;
    uint32_t len, sent, cap;
} dbuf;

typedef struct session {
    struct session *prev, *next;       /* the loop's live sessions, or its dead list */
    struct session *dirty_next;        /* sessions holding small chunks until the end of the batch */
    side c, b;                         /* client and backend sockets */
    dbuf up;                           /* client -> backend; kept whole as the replay while `keep` */
    dbuf down;                         /* backend -> client */
    backend *be;
    long *tried;                       /* ids of backends that failed for this client */
    uint16_t ntried, captried;
    uint8_t connecting, attached, answered, keep, closed;
    uint8_t held;                      /* 1: up, 2: down holds a chunk for the end of the batch */
    uint8_t dirty;                     /* on the dirty list */
    uint32_t be_batch;                 /* batch in which the backend socket was replaced */
    int64_t t_active, t_connect;       /* ms, monotonic */
    uint64_t nin, nout;
} session;

typedef struct cmd {
    struct cmd *next;
    int kind, done;
    void *arg;
    long result;
} cmd;

typedef struct {
    long id;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    int state;
} backend_item;

typedef struct {
    backend_item *items;
    int count;
    long *freed;      /* out: ids of dropped backends without sessions (caller frees) */
    int nfreed;
} backends_arg;

typedef struct {
    int max_connections;
    int connect_ms, idle_ms;
    int proxy_version;  /* 0 none, 1, 2 */
} options;

typedef struct {
    uint64_t connections, active, rejected, no_backend, bytes_in, bytes_out;
    int count;
    long *ids;
    uint64_t *be;     /* 4 per backend: connections, active, bytes_in, bytes_out */
} stats_arg;

typedef struct {
    long kind, id;
} relay_event;

typedef struct relay {
    /* shared with the Python thread: under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    cmd *cmds;
    relay_event *events;
    int nevents, capevents;
    /* fixed after creation */
    int lfd, epfd, cmdfd, evfd;
    /* owned by the loop thread (or by the caller when no thread runs) */
    options opt;
    int quit, accepting;
    int64_t accept_resume;             /* out of descriptors: accepting paused until then (ms) */
    session *live, *dead, *dirty;
    int deferring;                     /* handling a batch of events: small chunks are held */
    int nsessions;
    backend *backends;
    backend **rr;
    int nrr, next;
    uint64_t connections, rejected, no_backend, bytes_in, bytes_out;
    int64_t now, next_sweep;
    uint32_t batch;
    char *scratch;
} relay;

int relay_init(relay *r, int lfd, const options *opt);
void relay_run(relay *r);
void relay_command(relay *r, cmd *c);   /* run one command (loop thread, or caller when stopped) */
void relay_free(relay *r);

#endif
