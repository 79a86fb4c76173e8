/*
 * WebSockets of API.md (/v1/ws, /v1/agent/ws): the transport. The 101
 * answer, frame I/O on the request's connection, the tick's timer, and the
 * worker's socket registry. The rules are core's: whether an upgrade is
 * accepted (chat::ws::upgrade, chat/ws_handshake.h); a socket's send, close,
 * bounded queue, pings, dead peers and close timeouts (chat::ws::Socket,
 * chat/ws_socket.h); what a socket may hear and what its client's frames do
 * (chat::ws::Session, chat/ws_session.h; chat::ws::StandingCheck: agents'
 * standing).
 *
 * Longer than 500 lines because what is left is nginx's side of a socket and
 * reads best whole: the 101 answer, send/recv on the request's connection,
 * the tick's timer, the registry, and the lifetime below, which all share the
 * socket struct.
 *
 * Socket lifetime, the invariants that make it hard to get wrong:
 *
 *  - a socket owns its session (a shared_ptr); the session's async
 *    completions hold a weak_ptr, so an answer for a socket that went away
 *    does nothing (nothing else keeps a socket's address);
 *  - the HTTP request of the upgrade is freed once the 101 is out and the
 *    content handler returned (a posted event, ngx_http_chat_ws_detach): an
 *    idle socket then holds its connection, not the request's pool (about
 *    5 KB) and header buffer (1 KB). Until then the socket lives on the
 *    request (its read and write handlers, the request pool's cleanup);
 *    from then on on the connection (c->data, c->read/write->handler);
 *  - a socket is freed only from nginx's side (the request pool's cleanup
 *    before the detach, the finalize event after it), and this file asks for
 *    that only through a posted event (ngx_http_chat_ws_finalize): no send,
 *    deliver, dispatch, read or tick frees a socket under its caller's feet,
 *    so a socket pointer obtained in an event handler (and the Transport its
 *    session calls) stays valid until that handler returns. Loops that send
 *    check closing() (set by every close and by finalize) instead;
 *  - nothing is read from a socket before its session is authenticated
 *    (Transport::start_reading arms the read handler).
 */

#include "ngx_http_chat.h"

#include <memory>
#include <unordered_map>

#include "chat/agent.h"
#include "chat/customer.h"
#include "chat/events.h"
#include "chat/origin.h"
#include "chat/ws_handshake.h"
#include "chat/ws_hub.h"
#include "chat/ws_session.h"
#include "chat/ws_socket.h"
#include "chat/ws_standing.h"


static void ngx_http_chat_ws_read(ngx_http_request_t *r);


struct ngx_http_chat_socket_t final : chat::ws::Socket {
    ngx_http_request_t                  *r = NULL;    /* until detached */
    ngx_connection_t                    *c = NULL;
    ngx_pool_cleanup_t                  *cln = NULL;  /* in r's pool */
    std::shared_ptr<chat::ws::Session>   session;
    std::string                          early;       /* bytes behind the
                                                         handshake, kept at
                                                         the detach */
    bool                                 finalizing = false;
    ngx_event_t                          finalize_ev{};
    ngx_event_t                          detach_ev{};

    ngx_http_chat_socket_t() : Socket(ngx_current_msec) {}
    void start_reading() override;
    void flush() override;
    uint64_t now_ms() const override { return ngx_current_msec; }
};


/*
 * The worker's sockets, by their connection: a connection is not reused
 * while its socket lives (the socket is freed before the connection closes).
 */
static std::unordered_map<ngx_connection_t *,
                          std::unique_ptr<ngx_http_chat_socket_t>>
    ngx_http_chat_sockets;
static ngx_event_t  ngx_http_chat_ws_tick_ev;

/* the same sessions, indexed for delivery by conversation */
static chat::ws::Hub  ngx_http_chat_ws_hub;

/*
 * what sessions ask of the worker: its services, looked up at each call, and
 * the one place that applies a use case's outcome, REST or WebSocket
 */
static chat::ws::ServiceBackend  ngx_http_chat_ws_backend(
    [] {
        ngx_http_chat_worker_t  *w = ngx_http_chat_worker();

        return w ? chat::ws::Services{w->customer, w->agent}
                 : chat::ws::Services{};
    },
    [](chat::Outcome &&o) {
        ngx_http_chat_outcome_effects(
            static_cast<ngx_http_chat_main_conf_t *>(
                ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                                    ngx_http_chat_module)),
            o);
    });

static chat::ws::StandingCheck  ngx_http_chat_ws_standing;


ngx_uint_t
ngx_http_chat_ws_count(void)
{
    return ngx_http_chat_sockets.size();
}


static ngx_http_chat_socket_t *
ngx_http_chat_ws_socket(ngx_http_request_t *r)
{
    auto it = ngx_http_chat_sockets.find(r->connection);

    if (it == ngx_http_chat_sockets.end() || it->second->r != r
        || it->second->finalizing)
    {
        return NULL;
    }

    return it->second.get();
}


static void ngx_http_chat_ws_flush(ngx_http_chat_socket_t *s);
static void ngx_http_chat_ws_finalize(ngx_http_chat_socket_t *s);


/*
 * One non-cancelable timer per worker while sockets are open: each socket's
 * tick (chat::ws::Socket::tick) pings an idle peer, closes a dead one, closes
 * with 1001 on a graceful shutdown (reload), or gives up on a close that did
 * not get through (a peer that stops reading must not pin an old worker):
 * then it is finalized here. Then core re-reads the standing of the agents
 * with open sockets. O(sockets), no allocation but the ping and a re-check.
 */
static void
ngx_http_chat_ws_tick(ngx_event_t *ev)
{
    for (auto &it : ngx_http_chat_sockets) {
        ngx_http_chat_socket_t  *s = it.second.get();

        if (!s->finalizing
            && s->tick(ngx_current_msec,
                       ngx_exiting || ngx_terminate || ngx_quit)
               == chat::ws::Socket::Tick::give_up)
        {
            ngx_log_error(NGX_LOG_INFO, s->c->log, 0,
                          "chat: websocket close timed out");
            ngx_http_chat_ws_finalize(s);
        }
    }

    /* a round asks about the open sockets' authenticated agents, if any */
    if (ngx_http_chat_ws_standing.due(ngx_current_msec)) {
        ngx_http_chat_ws_standing.start(ngx_http_chat_ws_hub.agents(),
                                        ngx_http_chat_ws_backend,
                                        ngx_current_msec);
    }

    if (!ngx_http_chat_sockets.empty()) {
        ngx_add_timer(ev, 1000);
    }
}


/* frees a socket: from the request pool's cleanup or the finalize event */
static void
ngx_http_chat_ws_free(ngx_http_chat_socket_t *s)
{
    if (s->finalize_ev.posted) {
        ngx_delete_posted_event(&s->finalize_ev);
    }

    if (s->detach_ev.posted) {
        ngx_delete_posted_event(&s->detach_ev);
    }

    ngx_http_chat_ws_hub.remove(s->session.get());
    ngx_http_chat_sockets.erase(s->c);             /* destroys s */
}


/* the request pool's cleanup, until the detach */
static void
ngx_http_chat_ws_cleanup(void *data)
{
    /* the park of the upgrade ends with the request pool's own cleanup */

    ngx_http_chat_ws_free(static_cast<ngx_http_chat_socket_t *>(data));
}


static void
ngx_http_chat_ws_finalize_handler(ngx_event_t *ev)
{
    auto                *s = static_cast<ngx_http_chat_socket_t *>(ev->data);
    ngx_http_request_t  *r = s->r;
    ngx_connection_t    *c = s->c;

    ngx_log_error(NGX_LOG_INFO, c->log, 0, "chat: websocket closed");

    if (r) {
        /*
         * Terminating a request whose write handler is set is done through
         * a posted request: run it now, since posted events do not run
         * posted requests by themselves. The request's cleanup frees s.
         */
        ngx_http_finalize_request(r, NGX_HTTP_CLOSE);
        ngx_http_run_posted_requests(c);
        return;
    }

    ngx_http_chat_ws_free(s);
    ngx_http_close_connection(c);
}


/*
 * Ends a socket: from now on nothing is sent, read or delivered, and the
 * request is finalized from a posted event, after the handler that called
 * this returned (so no caller up the stack holds a freed socket).
 */
static void
ngx_http_chat_ws_finalize(ngx_http_chat_socket_t *s)
{
    if (s->finalizing) {
        return;
    }

    s->finalizing = true;
    s->end();

    s->finalize_ev.handler = ngx_http_chat_ws_finalize_handler;
    s->finalize_ev.data = s;
    s->finalize_ev.log = s->c->log;

    ngx_post_event(&s->finalize_ev, &ngx_posted_events);
}


void
ngx_http_chat_socket_t::flush()
{
    ngx_http_chat_ws_flush(this);
}


/* the session stands: read what the client sent, from now on */
void
ngx_http_chat_socket_t::start_reading()
{
    if (r) {
        r->read_event_handler = ngx_http_chat_ws_read;
    }

    ngx_post_event(c->read, &ngx_posted_events);
}


/* writes what the socket's queue holds; never frees the socket */
static void
ngx_http_chat_ws_flush(ngx_http_chat_socket_t *s)
{
    ssize_t              n;
    ngx_http_request_t  *r = s->r;
    ngx_connection_t    *c = s->c;

    if (s->finalizing) {
        return;
    }

    /* the 101 header may still sit in nginx's output chain */
    if (r && r->out) {
        if (ngx_http_output_filter(r, NULL) == NGX_ERROR) {
            ngx_http_chat_ws_finalize(s);
            return;
        }

        if (r->out) {
            if (ngx_handle_write_event(c->write, 0) != NGX_OK) {
                ngx_http_chat_ws_finalize(s);
            }

            return;
        }
    }

    while (!s->out().empty()) {
        std::string_view  f = s->out().unsent();

        n = c->send(c, (u_char *) f.data(), f.size());

        if (n == NGX_AGAIN) {
            break;
        }

        if (n == NGX_ERROR) {
            ngx_http_chat_ws_finalize(s);
            return;
        }

        s->out().sent(n);
    }

    if (s->out().empty() && s->closing()) {
        ngx_http_chat_ws_finalize(s);
        return;
    }

    if (ngx_handle_write_event(c->write, 0) != NGX_OK) {
        ngx_http_chat_ws_finalize(s);
    }
}


static void
ngx_http_chat_ws_write(ngx_http_request_t *r)
{
    ngx_http_chat_socket_t  *s = ngx_http_chat_ws_socket(r);

    if (s) {
        ngx_http_chat_ws_flush(s);
    }
}


/*
 * An event reached this worker: the hub hands it to the agents' sessions and
 * to the customers' of its conversation, and each decides whether its client
 * hears it. Nothing in here frees a socket (see the top of the file).
 */
void
ngx_http_chat_dispatch(const chat::events::Event &e) noexcept
{
    ngx_http_chat_ws_hub.dispatch(e);
}


/* whether ngx_http_chat_dispatch() of that conversation's event reaches a socket */
bool
ngx_http_chat_ws_listens(std::string_view conversation_id) noexcept
{
    return ngx_http_chat_ws_hub.listens(conversation_id);
}


/*
 * This worker missed events (the no-Redis ring overtook it): every socket
 * is closed with a code clients treat as "reconnect", so customers resume
 * with after= and dashboards refetch.
 */
void
ngx_http_chat_ws_resume_all(std::string_view reason) noexcept
{
    try {
        for (auto &it : ngx_http_chat_sockets) {
            it.second->close(chat::ws::CloseCode::internal, reason);
        }

    } catch (...) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "chat: closing lagging sockets failed");
    }
}


/*
 * These conversations were deleted (chat_retention, `chatctl erase`): their
 * customers' sockets close with 4410, and agents' sessions forget them.
 */
void
ngx_http_chat_ws_end(std::span<const std::string> conversation_ids) noexcept
{
    if (!conversation_ids.empty()) {
        ngx_http_chat_ws_hub.end(conversation_ids);
    }
}


/* reads what the client sent, once the socket's session is authenticated */
static void
ngx_http_chat_ws_receive(ngx_http_chat_socket_t *s)
{
    u_char               buf[8192];
    ssize_t              n;
    ngx_http_request_t  *r = s->r;
    ngx_connection_t    *c = s->c;

    if (!s->session->authenticated()) {
        return;
    }

    try {
        /* frames the client sent right behind its handshake */
        if (!s->early.empty()) {
            std::string  early = std::move(s->early);

            s->early.clear();
            s->heard(ngx_current_msec);
            s->session->on_bytes(early, ngx_current_msec);

        } else if (r && r->header_in && r->header_in->pos < r->header_in->last)
        {
            std::string_view  early((char *) r->header_in->pos,
                                    r->header_in->last - r->header_in->pos);
            r->header_in->pos = r->header_in->last;
            s->heard(ngx_current_msec);
            s->session->on_bytes(early, ngx_current_msec);
        }

        for ( ;; ) {
            if (s->finalizing) {
                return;
            }

            n = c->recv(c, buf, sizeof(buf));

            if (n == NGX_AGAIN) {
                break;
            }

            if (n == 0 || n == NGX_ERROR) {
                ngx_http_chat_ws_finalize(s);
                return;
            }

            if (!s->closing()) {
                s->heard(ngx_current_msec);
                s->session->on_bytes(std::string_view((char *) buf, n),
                                     ngx_current_msec);
            }
        }

    } catch (const std::exception &e) {
        ngx_log_error(NGX_LOG_ERR, c->log, 0, "chat: websocket: %s", e.what());
        ngx_http_chat_ws_finalize(s);
        return;
    }

    if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
        ngx_http_chat_ws_finalize(s);
    }
}


/* the request's read handler, until the detach */
static void
ngx_http_chat_ws_read(ngx_http_request_t *r)
{
    ngx_http_chat_socket_t  *s = ngx_http_chat_ws_socket(r);

    if (s) {
        ngx_http_chat_ws_receive(s);
    }
}


/* the connection's handlers, after the detach */
static void
ngx_http_chat_ws_read_event(ngx_event_t *rev)
{
    auto  *c = static_cast<ngx_connection_t *>(rev->data);
    auto  *s = static_cast<ngx_http_chat_socket_t *>(c->data);

    if (s->finalizing) {
        return;
    }

    /* worker_shutdown_timeout: nginx closes the connections still open */
    if (c->close) {
        ngx_http_chat_ws_finalize(s);
        return;
    }

    ngx_http_chat_ws_receive(s);
}


static void
ngx_http_chat_ws_write_event(ngx_event_t *wev)
{
    auto  *c = static_cast<ngx_connection_t *>(wev->data);

    ngx_http_chat_ws_flush(static_cast<ngx_http_chat_socket_t *>(c->data));
}


/*
 * Once the content handler returned: the request of the upgrade is freed
 * (its access log line is written now, status 101) and the socket keeps the
 * connection alone. Bytes the client sent behind its handshake are kept
 * first. A socket whose 101 is not out yet, or whose request is held
 * elsewhere, stays on its request as before.
 */
static void
ngx_http_chat_ws_detach(ngx_event_t *ev)
{
    auto                *s = static_cast<ngx_http_chat_socket_t *>(ev->data);
    ngx_http_request_t  *r = s->r;
    ngx_connection_t    *c = s->c;

    if (s->finalizing || r == NULL || r->out || r->main->count != 1
        || r->blocked)
    {
        return;
    }

    try {
        if (r->header_in && r->header_in->pos < r->header_in->last) {
            s->early.assign((char *) r->header_in->pos,
                            r->header_in->last - r->header_in->pos);
            r->header_in->pos = r->header_in->last;
        }

    } catch (...) {
        return;
    }

    s->cln->handler = NULL;      /* the request pool frees s no more */
    s->cln = NULL;
    s->r = NULL;

    ngx_http_free_request(r, 0);

    c->destroyed = 0;            /* the connection is not: the socket has it */
    c->log->action = NULL;
    c->data = s;
    c->read->handler = ngx_http_chat_ws_read_event;
    c->write->handler = ngx_http_chat_ws_write_event;

    /* the header buffer held the request's strings; nothing reads it now */
    if (c->buffer && c->buffer->start
        && ngx_pfree(c->pool, c->buffer->start) == NGX_OK)
    {
        c->buffer->start = NULL;
        c->buffer->pos = NULL;
        c->buffer->last = NULL;
        c->buffer->end = NULL;
    }
}


/* one header of the 101 answer; `value` is copied into the request pool */
static ngx_int_t
ngx_http_chat_ws_header(ngx_http_request_t *r, const char *key,
    std::string_view value)
{
    ngx_table_elt_t  *h;

    h = static_cast<ngx_table_elt_t *>(ngx_list_push(&r->headers_out.headers));
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) key;
    h->key.len = ngx_strlen(key);
    h->value.len = value.size();
    h->value.data = static_cast<u_char *>(ngx_pnalloc(r->pool, value.size()));

    if (h->value.data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(h->value.data, value.data(), value.size());

    return NGX_OK;
}


/* GET /v1/ws and /v1/agent/ws */
ngx_int_t
ngx_http_chat_ws_handler(ngx_http_request_t *r, bool agent)
{
    ngx_str_t                     arg;
    std::string                   sid;
    std::int64_t                  after = 0;
    ngx_pool_cleanup_t           *cln;
    ngx_http_chat_worker_t       *w = ngx_http_chat_worker();
    ngx_http_chat_credentials_t   cr;

    ngx_http_chat_loc_conf_t  *clcf = static_cast<ngx_http_chat_loc_conf_t *>(
        ngx_http_get_module_loc_conf(r, ngx_http_chat_module));

    std::vector<std::string_view>  origins;
    chat::ws::UpgradeRequest       up;

    if (clcf->allowed_origins) {
        auto *o = static_cast<ngx_str_t *>(clcf->allowed_origins->elts);

        for (ngx_uint_t i = 0; i < clcf->allowed_origins->nelts; i++) {
            origins.push_back(ngx_http_chat_sv(o[i]));
        }
    }

    up.get = r->method == NGX_HTTP_GET;
    up.http11 = r->http_version == NGX_HTTP_VERSION_11;
    up.upgrade = ngx_http_chat_header(r, "Upgrade");
    up.version = ngx_http_chat_header(r, "Sec-WebSocket-Version");
    up.key = ngx_http_chat_header(r, "Sec-WebSocket-Key");
    up.origin = ngx_http_chat_header(r, "Origin");
    up.host = r->headers_in.host ? ngx_http_chat_sv(r->headers_in.host->value)
                                 : std::string_view();
    up.allowed_origins = origins;

    auto accept = chat::ws::upgrade(up);
    if (!accept.ok()) {
        return ngx_http_chat_send_error(r, accept.error().code,
                                        accept.error().message);
    }

    if (w == NULL || w->customer == NULL) {
        return ngx_http_chat_send_error(r, chat::Errc::unavailable,
                                        "chat_postgres is not configured");
    }

    cr = ngx_http_chat_credentials(r,
             agent ? chat::agent::kAgentCookie : chat::customer::kSessionCookie,
                                   ngx_http_chat_token_or_url);

    /* a customer's session token is checked before the upgrade (401) */
    if (!agent) {
        auto  start = chat::ws::customer_start(
            w->customer->authenticate(cr.token, ngx_http_chat_site(r)),
            ngx_http_arg(r, (u_char *) "after", 5, &arg) == NGX_OK
                ? std::optional(ngx_http_chat_sv(arg)) : std::nullopt);

        if (!start.ok()) {
            return ngx_http_chat_send_error(r, start.error().code,
                                            start.error().message);
        }

        sid = std::move(start.value().sid);
        after = start.value().after;
    }

    ngx_http_chat_main_conf_t  *cmcf = static_cast<ngx_http_chat_main_conf_t *>(
        ngx_http_get_module_main_conf(r, ngx_http_chat_module));

    chat::ws::SessionLimits  limits;

    limits.frames = chat::ws::Limits{cmcf->ws_max_message,
                                     cmcf->ws_max_message};

    auto s = std::make_unique<ngx_http_chat_socket_t>();

    s->r = r;
    s->c = r->connection;
    s->session = agent
        ? chat::ws::Session::agent(*s, ngx_http_chat_ws_backend, limits)
        : chat::ws::Session::customer(*s, ngx_http_chat_ws_backend,
                                      std::move(sid), after, limits);

    /*
     * Events are small frames written as they happen: without TCP_NODELAY
     * the kernel holds one back while the peer has not acknowledged the
     * previous (the bot's reply behind the customer's own message). nginx
     * sets it on keep-alive connections and on proxied WebSockets, not on a
     * request that keeps its connection like this one.
     */
    ngx_http_core_loc_conf_t  *core = static_cast<ngx_http_core_loc_conf_t *>(
        ngx_http_get_module_loc_conf(r, ngx_http_core_module));

    if (core->tcp_nodelay && ngx_tcp_nodelay(r->connection) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the 101 answer */
    r->headers_out.status = NGX_HTTP_SWITCHING_PROTOCOLS;
    ngx_str_set(&r->headers_out.status_line, "101 Switching Protocols");
    r->headers_out.content_length_n = -1;
    r->header_only = 1;
    r->keepalive = 0;

    cln = ngx_pool_cleanup_add(r->pool, 0);

    if (cln == NULL
        || ngx_http_chat_ws_header(r, "Upgrade", "websocket") != NGX_OK
        || ngx_http_chat_ws_header(r, "Sec-WebSocket-Accept", accept.value())
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_chat_ctx_t  *ctx = ngx_http_chat_ctx(r);
    if (ctx) {
        ctx->own_response = 1;
    }

    if (ngx_http_send_header(r) == NGX_ERROR) {
        return NGX_ERROR;
    }

    auto  *raw = s.get();

    /* registered in both or in neither (an allocation may throw) */
    ngx_http_chat_ws_hub.add(raw->session.get());

    try {
        ngx_http_chat_sockets[r->connection] = std::move(s);

    } catch (...) {
        ngx_http_chat_ws_hub.remove(raw->session.get());
        throw;
    }

    cln->handler = ngx_http_chat_ws_cleanup;
    cln->data = raw;
    raw->cln = cln;

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "chat: websocket open (%s)", agent ? "agent" : "customer");

    r->main->count++;
    (void) ngx_http_chat_park(r);   /* keeps an exiting worker; the pool
                                       cleanup ends it */

    /* nothing is read before the session stands (start_reading) */
    r->read_event_handler = ngx_http_block_reading;
    r->write_event_handler = ngx_http_chat_ws_write;

    if (r->connection->read->timer_set) {
        ngx_del_timer(r->connection->read);
    }

    if (!ngx_http_chat_ws_tick_ev.timer_set) {
        ngx_http_chat_ws_tick_ev.handler = ngx_http_chat_ws_tick;
        ngx_http_chat_ws_tick_ev.log = ngx_cycle->log;
        ngx_http_chat_ws_tick_ev.data = &ngx_http_chat_sockets;
        ngx_add_timer(&ngx_http_chat_ws_tick_ev, 1000);
    }

    /* posted before the session's read event: it runs first */
    raw->detach_ev.handler = ngx_http_chat_ws_detach;
    raw->detach_ev.data = raw;
    raw->detach_ev.log = r->connection->log;
    ngx_post_event(&raw->detach_ev, &ngx_posted_events);

    /*
     * A customer's session starts reading at once (a posted read event: all
     * that may close the socket runs from the loop, after this handler
     * returned) and replays; an agent's verifies its token first.
     */
    raw->session->start(cr.token, ngx_http_chat_site(r));

    return NGX_DONE;
}


/* chat_allowed_origins origin ...; each scheme://host[:port], kept normalized */
char *
ngx_http_chat_allowed_origins(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = static_cast<char *>(conf);

    ngx_str_t     *value, *o;
    ngx_array_t  **a;

    a = reinterpret_cast<ngx_array_t **>(p + cmd->offset);

    if (*a != NGX_CONF_UNSET_PTR) {
        return (char *) "is duplicate";
    }

    value = static_cast<ngx_str_t *>(cf->args->elts);

    *a = ngx_array_create(cf->pool, cf->args->nelts - 1, sizeof(ngx_str_t));
    if (*a == NULL) {
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    try {
        for (ngx_uint_t i = 1; i < cf->args->nelts; i++) {
            auto n = chat::origin::normalize(ngx_http_chat_sv(value[i]));

            if (!n) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid origin \"%V\", expected "
                                   "scheme://host[:port]", &value[i]);
                return static_cast<char *>(NGX_CONF_ERROR);
            }

            o = static_cast<ngx_str_t *>(ngx_array_push(*a));
            if (o == NULL) {
                return static_cast<char *>(NGX_CONF_ERROR);
            }

            o->len = n->size();
            o->data = static_cast<u_char *>(ngx_pnalloc(cf->pool, o->len));
            if (o->data == NULL) {
                return static_cast<char *>(NGX_CONF_ERROR);
            }

            ngx_memcpy(o->data, n->data(), o->len);
        }

    } catch (const std::exception &e) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "chat_allowed_origins: %s",
                           e.what());
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    return NGX_CONF_OK;
}
