/* The native event loop of one TCP listener: accept, pick a backend, connect, relay, time out.
 *
 * Everything here runs on the loop thread and never calls the Python API.  Sockets are registered
 * once, edge-triggered for reading and writing, and readiness is tracked in `side.rd` / `side.wr`;
 * so a request costs its recv and send and no epoll_ctl.  A read goes into the loop's scratch
 * buffer and is sent on at once; only what the other side does not take is copied into a
 * per-direction buffer (so an idle session holds no buffer at all), and while such a remainder
 * waits the source is not read (backpressure).  Small chunks of settled sessions (the backend has
 * answered) are held and written together at the end of each batch of events: writing each one at
 * once wakes its receiver in the middle of the batch, and on a busy machine the woken process
 * often preempts the loop there (the asyncio engine's Outbox does the same, for the same reason).
 * The first exchange of a session is written at once: a connection per request never waits.  Until the backend's first byte, what the client
 * sent (after the PROXY header) is kept whole so that it can be replayed to the next backend when
 * the connect fails or the backend resets the connection before answering.
 */
#define _GNU_SOURCE
#include "proxy_header.h"
#include "relay.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define TAG_LISTEN 2u
#define TAG_CMD 4u

static void connect_next(relay *r, session *s);
static void pump(relay *r, session *s);

static void hold(relay *r, session *s, uint8_t bit) {
    s->held |= bit;
    if (!s->dirty) {
        s->dirty = 1;
        s->dirty_next = r->dirty;
        r->dirty = s;
    }
}

/* ---------------------------------------------------------------- small helpers */

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void emit(relay *r, long kind, long id) {
    pthread_mutex_lock(&r->mu);
    if (r->nevents == r->capevents) {
        int cap = r->capevents ? r->capevents * 2 : 64;
        relay_event *grown = realloc(r->events, (size_t)cap * sizeof *grown);
        if (grown == NULL) {
            pthread_mutex_unlock(&r->mu);
            return;
        }
        r->events = grown;
        r->capevents = cap;
    }
    r->events[r->nevents].kind = kind;
    r->events[r->nevents].id = id;
    r->nevents++;
    pthread_mutex_unlock(&r->mu);
    uint64_t one = 1;
    (void)!write(r->evfd, &one, sizeof one);
}

static int sweep_period(const relay *r) {
    int period = (r->opt.connect_ms < r->opt.idle_ms ? r->opt.connect_ms : r->opt.idle_ms) / 4;
    return period < 10 ? 10 : period;
}

static void nodelay(int fd) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static int watch(relay *r, int fd, session *s, unsigned tag) {
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET};
    ev.data.u64 = (uint64_t)(uintptr_t)s | tag;
    return epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* ---------------------------------------------------------------- buffers */

static int buf_append(dbuf *q, const char *data, uint32_t n) {
    if (q->len + n > q->cap) {
        uint32_t cap = q->cap ? q->cap : 4096;
        while (cap < q->len + n)
            cap *= 2;
        char *grown = realloc(q->data, cap);
        if (grown == NULL)
            return -1;
        q->data = grown;
        q->cap = cap;
    }
    memcpy(q->data + q->len, data, n);
    q->len += n;
    return 0;
}

static void buf_free(dbuf *q) {
    free(q->data);
    q->data = NULL;
    q->len = q->sent = q->cap = 0;
}

/* Drop what was sent; free the buffer once nothing is left (idle sessions hold no memory). */
static void buf_compact(dbuf *q) {
    if (q->sent == q->len) {
        buf_free(q);
    } else if (q->sent > 0) {
        memmove(q->data, q->data + q->sent, q->len - q->sent);
        q->len -= q->sent;
        q->sent = 0;
    }
}

/* ---------------------------------------------------------------- backends */

static backend *find_backend(relay *r, long id) {
    for (backend *be = r->backends; be != NULL; be = be->next)
        if (be->id == id)
            return be;
    return NULL;
}

static void unlink_backend(relay *r, backend *gone) {
    for (backend **p = &r->backends; *p != NULL; p = &(*p)->next)
        if (*p == gone) {
            *p = gone->next;
            break;
        }
    free(gone);
}

/* A session lets go of its backend; a draining backend without sessions is reported and freed. */
static void release_backend(relay *r, session *s) {
    backend *be = s->be;
    if (be == NULL)
        return;
    if (s->attached) {
        be->active--;
        s->attached = 0;
    }
    s->be = NULL;
    if (--be->refs == 0 && !be->listed) {
        emit(r, EV_DRAINED, be->id);
        unlink_backend(r, be);
    }
}

static int was_tried(const session *s, long id) {
    for (int i = 0; i < s->ntried; i++)
        if (s->tried[i] == id)
            return 1;
    return 0;
}

static void add_tried(session *s, long id) {
    if (s->ntried == s->captried) {
        uint16_t cap = s->captried ? s->captried * 2 : 4;
        long *grown = realloc(s->tried, cap * sizeof *grown);
        if (grown == NULL)
            return;
        s->tried = grown;
        s->captried = cap;
    }
    s->tried[s->ntried++] = id;
}

/* Round robin as the Pool does it: the next eligible backend after the last one picked, not yet
 * tried by this client; failing that the next one that is down but not reported unhealthy. */
static backend *pick(relay *r, const session *s) {
    for (int want = BE_ELIGIBLE; want >= BE_FALLBACK; want--) {
        for (int step = 0; step < r->nrr; step++) {
            int index = (r->next + step) % r->nrr;
            backend *be = r->rr[index];
            if (be->state < want || (s->ntried && was_tried(s, be->id)))
                continue;
            r->next = index + 1;
            return be;
        }
    }
    return NULL;
}

/* ---------------------------------------------------------------- sessions */

static void close_session(relay *r, session *s) {
    if (s->closed)
        return;
    s->closed = 1;
    close(s->c.fd);
    if (s->b.fd >= 0)
        close(s->b.fd);
    release_backend(r, s);
    buf_free(&s->up);
    buf_free(&s->down);
    free(s->tried);
    s->tried = NULL;
    if (s->prev)
        s->prev->next = s->next;
    else
        r->live = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->next = r->dead;  /* freed after the batch: events for it may still be in hand */
    r->dead = s;
    r->nsessions--;
}

/* The backend failed this client before answering: mark it down, tell Python, try the next one
 * with everything the client sent so far. */
static void backend_failed(relay *r, session *s) {
    backend *be = s->be;
    if (be->state == BE_ELIGIBLE)
        be->state = BE_FALLBACK;
    emit(r, EV_FAILED, be->id);
    add_tried(s, be->id);
    if (s->attached) {  /* a reset before the first byte: its bytes go to the next backend */
        be->bytes_in -= s->nin;
        be->bytes_out -= s->nout;
    }
    release_backend(r, s);
    close(s->b.fd);
    s->b = (side){.fd = -1};
    s->connecting = 0;
    s->up.sent = 0;
    s->be_batch = r->batch;
    connect_next(r, s);
}

static void attached(relay *r, session *s) {
    backend *be = s->be;
    s->connecting = 0;
    s->attached = 1;
    s->b.wr = 1;
    be->connections++;
    be->active++;
    be->bytes_in += s->nin;
    be->bytes_out += s->nout;
    if (s->up.len > RELAY_PENDING_LIMIT)
        s->keep = 0;  /* too much to hold for a replay: this session is bound to this backend */
}

static void connect_next(relay *r, session *s) {
    backend *be = pick(r, s);
    if (be == NULL) {
        r->no_backend++;
        close_session(r, s);
        return;
    }
    int fd = socket(be->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        close_session(r, s);
        return;
    }
    nodelay(fd);
    s->be = be;
    be->refs++;
    s->b = (side){.fd = fd};
    int rc = connect(fd, (struct sockaddr *)&be->addr, be->addrlen);
    if ((rc < 0 && errno != EINPROGRESS) || watch(r, fd, s, 1) < 0) {
        backend_failed(r, s);
        return;
    }
    if (rc == 0) {
        attached(r, s);
        pump(r, s);
    } else {
        s->connecting = 1;
        s->t_connect = r->now;
    }
}

static void accept_one(relay *r, int fd) {
    if (r->nsessions >= r->opt.max_connections) {
        r->rejected++;
        close(fd);
        return;
    }
    session *s = calloc(1, sizeof *s);
    if (s == NULL) {
        close(fd);
        return;
    }
    s->c.fd = fd;  /* TCP_NODELAY comes from the listening socket (Linux copies it to accepted ones) */
    s->b.fd = -1;
    s->keep = 1;
    s->t_active = r->now;
    s->next = r->live;
    if (r->live)
        r->live->prev = s;
    r->live = s;
    r->nsessions++;
    r->connections++;
    if (r->opt.proxy_version) {  /* the header leads the replay, so every backend tried gets it */
        struct sockaddr_storage peer, local;
        socklen_t plen = sizeof peer, llen = sizeof local;
        char header[232];
        if (getpeername(fd, (struct sockaddr *)&peer, &plen) == 0 &&
            getsockname(fd, (struct sockaddr *)&local, &llen) == 0) {
            int n = proxy_header(r->opt.proxy_version, (struct sockaddr *)&peer, (struct sockaddr *)&local, header);
            buf_append(&s->up, header, (uint32_t)n);
        }
    }
    if (watch(r, fd, s, 0) < 0) {
        close_session(r, s);
        return;
    }
    connect_next(r, s);
}

#define ACCEPT_PAUSE_MS 100

static void do_accept(relay *r) {
    for (int i = 0; i < RELAY_ACCEPT_BATCH && r->accepting && !r->accept_resume; i++) {
        int fd = accept4(r->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            accept_one(r, fd);
        } else if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            /* the socket stays readable: stop watching it for a while rather than spin */
            epoll_ctl(r->epfd, EPOLL_CTL_DEL, r->lfd, NULL);
            r->accept_resume = r->now + ACCEPT_PAUSE_MS;
        } else if (errno != EINTR && errno != ECONNABORTED) {
            return;  /* EAGAIN: the next event brings the rest */
        }
    }
}

static void resume_accepting(relay *r) {
    struct epoll_event ev = {.events = EPOLLIN};
    ev.data.u64 = TAG_LISTEN;
    r->accept_resume = 0;
    if (r->accepting)
        epoll_ctl(r->epfd, EPOLL_CTL_ADD, r->lfd, &ev);
}

/* ---------------------------------------------------------------- relaying */

/* An error on one side.  A backend that fails before its first byte while the replay is still
 * kept is given up for the next one; otherwise the session ends. */
static void side_error(relay *r, session *s, int on_backend) {
    if (on_backend && !s->answered && s->keep && !s->b.eof && !s->closed) {
        backend_failed(r, s);
        return;
    }
    close_session(r, s);
}

/* Send what `q` holds for `dst`; returns -1 on a socket error. */
static int flush(side *dst, dbuf *q, int keeping) {
    while (q->sent < q->len && dst->wr) {
        ssize_t n = send(dst->fd, q->data + q->sent, q->len - q->sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                dst->wr = 0;
                break;
            }
            if (errno == EINTR)
                continue;
            return -1;
        }
        q->sent += (uint32_t)n;
    }
    if (!keeping)
        buf_compact(q);
    return 0;
}

/* Move bytes one way until the source is drained, the destination is full, or an end.
 * Returns -1 when the session was closed or moved on to another backend. */
static int flow(relay *r, session *s, int up) {
    side *src = up ? &s->c : &s->b, *dst = up ? &s->b : &s->c;
    dbuf *q = up ? &s->up : &s->down;
    int dst_ready = up ? s->attached : 1;
    uint8_t bit = up ? 1 : 2;
    for (;;) {
        int keeping = up && s->keep;
        int held = r->deferring && (s->held & bit);
        if (dst_ready && !held && flush(dst, q, keeping) < 0) {
            side_error(r, s, up);
            return -1;
        }
        if (dst_ready ? q->sent < q->len : q->len > RELAY_PENDING_LIMIT)
            break;  /* backpressure: nothing more is read until the other side takes it */
        if (!src->rd || src->eof)
            break;
        ssize_t n = recv(src->fd, r->scratch, RELAY_SCRATCH, 0);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                src->rd = 0;
                break;
            }
            if (errno == EINTR)
                continue;
            side_error(r, s, !up);
            return -1;
        }
        if (n == 0) {
            src->eof = 1;
            break;
        }
        if (n < RELAY_SCRATCH && !src->hup)
            src->rd = 0;  /* a short read drained the socket; new bytes bring a new edge */
        s->t_active = r->now;
        int settled = s->answered;  /* not the session's first exchange */
        if (up) {
            s->nin += (uint64_t)n;
            r->bytes_in += (uint64_t)n;
            if (s->attached)
                s->be->bytes_in += (uint64_t)n;
        } else {
            s->nout += (uint64_t)n;
            r->bytes_out += (uint64_t)n;
            s->be->bytes_out += (uint64_t)n;
            if (!s->answered) {  /* the first answer: the session is bound to this backend */
                s->answered = 1;
                s->keep = 0;
                buf_compact(&s->up);
            }
        }
        const char *data = r->scratch;
        uint32_t left = (uint32_t)n;
        if (!keeping && q->len == 0 && dst_ready && dst->wr && settled && r->deferring && n < RELAY_SMALL) {
            if (buf_append(q, data, left) < 0) {
                close_session(r, s);
                return -1;
            }
            hold(r, s, bit);  /* written at the end of the batch */
            continue;
        }
        if (!keeping && q->len == 0 && dst_ready && dst->wr) {  /* straight through */
            ssize_t sent = send(dst->fd, data, left, MSG_NOSIGNAL);
            if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
                side_error(r, s, up);
                return -1;
            }
            if (sent < (ssize_t)left)
                dst->wr = 0;
            if (sent > 0) {
                data += sent;
                left -= (uint32_t)sent;
            }
        }
        if (left > 0 && buf_append(q, data, left) < 0) {
            close_session(r, s);
            return -1;
        }
        if (up && keeping && s->attached && q->len > RELAY_PENDING_LIMIT) {
            s->keep = 0;  /* too much to hold: this session can no longer move */
            buf_compact(q);
        }
    }
    /* half-close: the source's EOF goes on once everything before it has */
    if (src->eof && dst_ready && q->sent == q->len && !dst->shut) {
        dst->shut = 1;
        shutdown(dst->fd, SHUT_WR);  /* a failure here shows up as an error event on that socket */
    }
    return 0;
}

static void pump(relay *r, session *s) {
    if (flow(r, s, 1) < 0 || s->closed)
        return;
    if (s->attached && flow(r, s, 0) < 0)
        return;
    if (s->c.eof && s->b.eof && s->c.shut && s->b.shut)
        close_session(r, s);
}

static void connect_done(relay *r, session *s, uint32_t events) {
    if (events & (EPOLLERR | EPOLLHUP)) {  /* refused, unreachable, reset: writable alone means connected */
        backend_failed(r, s);
        return;
    }
    if (!(events & EPOLLOUT))
        return;  /* still in progress */
    attached(r, s);
    if (events & (EPOLLIN | EPOLLRDHUP))
        s->b.rd = 1;
    if (events & EPOLLRDHUP)
        s->b.hup = 1;
    pump(r, s);
}

static void on_event(relay *r, session *s, int on_backend, uint32_t events) {
    if (s->closed)
        return;
    if (on_backend) {
        if (s->be_batch == r->batch)
            return;  /* about a backend socket already replaced in this batch */
        if (s->connecting) {
            connect_done(r, s, events);
            return;
        }
    }
    side *sd = on_backend ? &s->b : &s->c;
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        sd->rd = 1;
    if (events & (EPOLLRDHUP | EPOLLHUP))
        sd->hup = 1;
    if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
        sd->wr = 1;
    pump(r, s);  /* bytes that came before an error are still relayed */
    if ((events & EPOLLERR) && !s->closed && !(on_backend && s->be_batch == r->batch))
        side_error(r, s, on_backend);
}

/* ---------------------------------------------------------------- timeouts */

static void sweep(relay *r) {
    session *s = r->live;
    while (s != NULL) {
        session *next = s->next;  /* s may end, or move to a new backend (it stays in the list) */
        if (s->connecting && r->now - s->t_connect >= r->opt.connect_ms)
            backend_failed(r, s);
        else if (r->now - s->t_active >= r->opt.idle_ms)
            close_session(r, s);
        s = next;
    }
}

/* ---------------------------------------------------------------- commands */

static void set_backends(relay *r, backends_arg *a) {
    backend **rr = calloc((size_t)(a->count ? a->count : 1), sizeof *rr);
    a->freed = calloc((size_t)(a->count + 1), sizeof(long));
    a->nfreed = 0;
    int capfreed = a->count + 1;
    if (rr == NULL || a->freed == NULL) {
        free(rr);
        return;
    }
    for (backend *be = r->backends; be != NULL; be = be->next)
        be->listed = 0;
    for (int i = 0; i < a->count; i++) {
        backend_item *item = &a->items[i];
        backend *be = find_backend(r, item->id);
        if (be == NULL) {
            be = calloc(1, sizeof *be);
            if (be == NULL)
                continue;
            be->id = item->id;
            be->next = r->backends;
            r->backends = be;
        }
        be->addr = item->addr;
        be->addrlen = item->addrlen;
        be->state = item->state;
        be->listed = 1;
        rr[i] = be;
    }
    free(r->rr);
    r->rr = rr;
    r->nrr = a->count;
    r->next = r->nrr ? r->next % r->nrr : 0;
    backend *be = r->backends;
    while (be != NULL) {
        backend *next = be->next;
        if (!be->listed && be->refs == 0) {
            if (a->nfreed == capfreed) {
                long *grown = realloc(a->freed, (size_t)capfreed * 2 * sizeof(long));
                if (grown != NULL) {
                    a->freed = grown;
                    capfreed *= 2;
                }
            }
            if (a->nfreed < capfreed)
                a->freed[a->nfreed++] = be->id;
            unlink_backend(r, be);
        }
        be = next;
    }
}

static void close_backend_sessions(relay *r, long id) {
    session *s = r->live;
    while (s != NULL) {
        session *next = s->next;
        if (s->be != NULL && s->be->id == id)
            close_session(r, s);
        s = next;
    }
}

static void fill_stats(relay *r, stats_arg *a) {
    a->connections = r->connections;
    a->active = (uint64_t)r->nsessions;
    a->rejected = r->rejected;
    a->no_backend = r->no_backend;
    a->bytes_in = r->bytes_in;
    a->bytes_out = r->bytes_out;
    int count = 0;
    for (backend *be = r->backends; be != NULL; be = be->next)
        count++;
    a->ids = calloc((size_t)count + 1, sizeof(long));
    a->be = calloc((size_t)count * 4 + 1, sizeof(uint64_t));
    a->count = 0;
    if (a->ids == NULL || a->be == NULL)
        return;
    for (backend *be = r->backends; be != NULL; be = be->next, a->count++) {
        a->ids[a->count] = be->id;
        uint64_t *row = a->be + 4 * a->count;
        row[0] = be->connections;
        row[1] = be->active;
        row[2] = be->bytes_in;
        row[3] = be->bytes_out;
    }
}

void relay_command(relay *r, cmd *c) {
    switch (c->kind) {
    case CMD_BACKENDS:
        set_backends(r, c->arg);
        break;
    case CMD_OPTIONS:
        r->opt = *(options *)c->arg;
        r->next_sweep = now_ms() + sweep_period(r);
        break;
    case CMD_CLOSE_BACKEND:
        close_backend_sessions(r, c->result);
        break;
    case CMD_STOP_ACCEPTING:
        if (r->accepting && !r->accept_resume)
            epoll_ctl(r->epfd, EPOLL_CTL_DEL, r->lfd, NULL);
        r->accepting = 0;
        break;
    case CMD_CLOSE_ALL:
        while (r->live != NULL)
            close_session(r, r->live);
        break;
    case CMD_STATS:
        fill_stats(r, c->arg);
        break;
    case CMD_QUIT:
        r->quit = 1;
        break;
    }
}

static void take_commands(relay *r) {
    uint64_t count;
    (void)!read(r->cmdfd, &count, sizeof count);
    pthread_mutex_lock(&r->mu);
    cmd *list = r->cmds;
    r->cmds = NULL;
    pthread_mutex_unlock(&r->mu);
    for (cmd *c = list; c != NULL; c = c->next)
        relay_command(r, c);
    pthread_mutex_lock(&r->mu);
    for (cmd *c = list; c != NULL;) {
        cmd *next = c->next;  /* the waiting caller owns c once done is set */
        c->done = 1;
        c = next;
    }
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

/* ---------------------------------------------------------------- the loop */

/* The end of a batch: write the held chunks, and go on moving those sessions at once. */
static void release_held(relay *r) {
    r->deferring = 0;
    while (r->dirty != NULL) {
        session *s = r->dirty;
        r->dirty = s->dirty_next;
        s->dirty = 0;
        s->held = 0;
        if (!s->closed)
            pump(r, s);
    }
}

static void free_dead(relay *r) {
    while (r->dead != NULL) {
        session *s = r->dead;
        r->dead = s->next;
        free(s);
    }
}

void relay_run(relay *r) {
    struct epoll_event events[RELAY_MAX_EVENTS];
    r->now = now_ms();
    r->next_sweep = r->now + sweep_period(r);
    while (!r->quit) {
        int64_t wake = r->accept_resume && r->accept_resume < r->next_sweep ? r->accept_resume : r->next_sweep;
        int timeout = (int)(wake - r->now);
        int n = epoll_wait(r->epfd, events, RELAY_MAX_EVENTS, timeout < 0 ? 0 : timeout);
        r->now = now_ms();
        r->batch++;
        r->deferring = 1;
        for (int i = 0; i < n; i++) {
            uint64_t tag = events[i].data.u64;
            if (tag == TAG_LISTEN)
                do_accept(r);
            else if (tag == TAG_CMD)
                take_commands(r);
            else
                on_event(r, (session *)(uintptr_t)(tag & ~(uint64_t)1), (int)(tag & 1), events[i].events);
        }
        release_held(r);
        free_dead(r);
        if (r->accept_resume && r->now >= r->accept_resume)
            resume_accepting(r);
        if (r->now >= r->next_sweep) {
            sweep(r);
            free_dead(r);
            r->next_sweep = r->now + sweep_period(r);
        }
    }
    while (r->live != NULL)
        close_session(r, r->live);
    free_dead(r);
}

int relay_init(relay *r, int lfd, const options *opt) {
    memset(r, 0, sizeof *r);
    r->lfd = lfd;
    r->opt = *opt;
    r->epfd = r->cmdfd = r->evfd = -1;
    r->scratch = malloc(RELAY_SCRATCH);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    r->epfd = epoll_create1(EPOLL_CLOEXEC);
    r->cmdfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    r->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (r->scratch == NULL || r->epfd < 0 || r->cmdfd < 0 || r->evfd < 0)
        return -1;
    struct epoll_event ev = {.events = EPOLLIN};
    ev.data.u64 = TAG_CMD;
    if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, r->cmdfd, &ev) < 0)
        return -1;
    ev.data.u64 = TAG_LISTEN;  /* level-triggered: accepts are batched, the rest come next round */
    if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, lfd, &ev) < 0)
        return -1;
    r->accepting = 1;
    return 0;
}

void relay_free(relay *r) {
    while (r->live != NULL)
        close_session(r, r->live);
    free_dead(r);
    while (r->backends != NULL)
        unlink_backend(r, r->backends);
    free(r->rr);
    free(r->events);
    free(r->scratch);
    int fds[] = {r->epfd, r->cmdfd, r->evfd};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
}
