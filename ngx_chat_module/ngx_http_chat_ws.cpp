/*
 * WebSockets of API.md: /v1/ws (customer, replaying every event after
 * ?after=SEQ first) and /v1/agent/ws (agent). The handshake, the frame I/O on
 * the request's connection, a bounded outbound queue, pings, and delivery of
 * the worker's events to the sockets that should see them. Frames are parsed
 * by core (chat::ws); events are built by core (chat::events).
 */

#include "ngx_http_chat.h"

#include <deque>
#include <list>
#include <memory>

#include "chat/agent.h"
#include "chat/customer.h"
#include "chat/events.h"
#include "chat/input.h"
#include "chat/json.h"
#include "chat/pg_pool.h"
#include "chat/redis_client.h"
#include "chat/ws.h"


#define NGX_HTTP_CHAT_WS_OUT_MAX      (1024 * 1024)   /* slow consumer bound */
#define NGX_HTTP_CHAT_WS_PENDING_MAX  1000            /* events during replay */
#define NGX_HTTP_CHAT_WS_PING         30000
#define NGX_HTTP_CHAT_WS_DEAD         75000


struct ngx_http_chat_socket_t {
    ngx_http_request_t                *r;
    bool                               agent = false;
    std::string                        principal;     /* sid or agent id */
    std::string                        role;          /* agents */
    chat::agent::Principal             who;           /* agents */
    std::string                        conversation_id;
    std::string                        assigned_agent_id;
    std::int64_t                       last_seq = 0;
    bool                               replaying = true;
    bool                               closing = false;
    bool                               finalized = false;
    std::vector<chat::events::Event>   pending;
    chat::ws::Parser                   parser;
    std::deque<std::string>            out;
    size_t                             out_off = 0;
    size_t                             out_bytes = 0;
    ngx_msec_t                         last_seen = 0;
    ngx_msec_t                         last_ping = 0;
};


static std::list<std::unique_ptr<ngx_http_chat_socket_t>>  ngx_http_chat_sockets;
static ngx_event_t                                          ngx_http_chat_ws_tick_ev;


static void ngx_http_chat_ws_read(ngx_http_request_t *r);
static void ngx_http_chat_ws_write(ngx_http_request_t *r);
static void ngx_http_chat_ws_close(ngx_http_chat_socket_t *s,
    chat::ws::CloseCode code, std::string_view reason);
static void ngx_http_chat_ws_deliver(ngx_http_chat_socket_t *s,
    const chat::events::Event &e);


ngx_uint_t
ngx_http_chat_ws_count(void)
{
    return ngx_http_chat_sockets.size();
}


/*
 * One non-cancelable timer per worker while sockets are open: pings idle
 * peers, drops dead ones, and on a graceful shutdown (reload) closes every
 * socket with 1001 so the worker can exit and clients reconnect elsewhere.
 */
static void
ngx_http_chat_ws_tick(ngx_event_t *ev)
{
    std::vector<ngx_http_chat_socket_t *>  all;

    for (auto &s : ngx_http_chat_sockets) {
        all.push_back(s.get());
    }

    for (auto *s : all) {
        if (s->closing) {
            continue;
        }

        if (ngx_exiting || ngx_terminate || ngx_quit) {
            ngx_http_chat_ws_close(s, chat::ws::CloseCode::going_away,
                                   "server restarting");
            continue;
        }

        if (ngx_current_msec - s->last_seen > NGX_HTTP_CHAT_WS_DEAD) {
            ngx_http_chat_ws_close(s, chat::ws::CloseCode::policy,
                                   "ping timeout");
            continue;
        }

        if (ngx_current_msec - s->last_seen > NGX_HTTP_CHAT_WS_PING
            && ngx_current_msec - s->last_ping > NGX_HTTP_CHAT_WS_PING)
        {
            s->last_ping = ngx_current_msec;
            s->out.push_back(chat::ws::frame_ping("ping"));
            s->out_bytes += s->out.back().size();
            ngx_http_chat_ws_write(s->r);
        }
    }

    if (!ngx_http_chat_sockets.empty()) {
        ngx_add_timer(ev, 1000);
    }
}


static void
ngx_http_chat_ws_cleanup(void *data)
{
    auto *s = static_cast<ngx_http_chat_socket_t *>(data);

    ngx_http_chat_sockets.remove_if([s](const auto &p) {
        return p.get() == s;
    });
}


static void
ngx_http_chat_ws_send(ngx_http_chat_socket_t *s, std::string frame)
{
    if (s->closing) {
        return;
    }

    s->out_bytes += frame.size();
    s->out.push_back(std::move(frame));

    if (s->out_bytes > NGX_HTTP_CHAT_WS_OUT_MAX) {
        /* a slow consumer never stalls the worker: it resumes with after= */
        s->out.clear();
        s->out_off = 0;
        s->out_bytes = 0;
        ngx_http_chat_ws_close(s, chat::ws::CloseCode::policy,
                               "too slow; reconnect with after=");
        return;
    }

    ngx_http_chat_ws_write(s->r);
}


static void
ngx_http_chat_ws_finalize(ngx_http_chat_socket_t *s)
{
    ngx_http_request_t  *r = s->r;
    ngx_connection_t    *c = r->connection;

    if (s->finalized) {
        return;
    }

    s->finalized = true;

    ngx_log_error(NGX_LOG_INFO, c->log, 0, "chat: websocket closed");

    /*
     * Terminating a request whose write handler is set is done through a
     * posted request: run it now, since timers and backend callbacks do not
     * run posted requests by themselves.
     */
    ngx_http_finalize_request(r, NGX_HTTP_CLOSE);
    ngx_http_run_posted_requests(c);
}


static void
ngx_http_chat_ws_close(ngx_http_chat_socket_t *s, chat::ws::CloseCode code,
    std::string_view reason)
{
    if (s->closing) {
        return;
    }

    s->out.push_back(chat::ws::frame_close(code, reason));
    s->out_bytes += s->out.back().size();
    s->closing = true;

    ngx_http_chat_ws_write(s->r);
}


static ngx_http_chat_socket_t *
ngx_http_chat_ws_socket(ngx_http_request_t *r)
{
    for (auto &s : ngx_http_chat_sockets) {
        if (s->r == r) {
            return s.get();
        }
    }

    return NULL;
}


static void
ngx_http_chat_ws_write(ngx_http_request_t *r)
{
    ssize_t                  n;
    ngx_connection_t        *c = r->connection;
    ngx_http_chat_socket_t  *s = ngx_http_chat_ws_socket(r);

    if (s == NULL) {
        return;
    }

    /* the 101 header may still sit in nginx's output chain */
    if (r->out) {
        if (ngx_http_output_filter(r, NULL) == NGX_ERROR) {
            ngx_http_chat_ws_finalize(s);
            return;
        }

        if (r->out) {
            ngx_handle_write_event(c->write, 0);
            return;
        }
    }

    while (!s->out.empty()) {
        std::string  &f = s->out.front();

        n = c->send(c, (u_char *) f.data() + s->out_off, f.size() - s->out_off);

        if (n == NGX_AGAIN) {
            break;
        }

        if (n == NGX_ERROR) {
            ngx_http_chat_ws_finalize(s);
            return;
        }

        s->out_off += n;

        if (s->out_off == f.size()) {
            s->out_bytes -= f.size();
            s->out_off = 0;
            s->out.pop_front();
        }
    }

    if (s->out.empty() && s->closing) {
        ngx_http_chat_ws_finalize(s);
        return;
    }

    if (ngx_handle_write_event(c->write, 0) != NGX_OK) {
        ngx_http_chat_ws_finalize(s);
    }
}


/* events raised here go to Redis (every worker of every node), or, without
 * Redis or while it is down, to this worker's own sockets */
void
ngx_http_chat_publish(const std::vector<chat::events::Event> &events) noexcept
{
    try {
        ngx_http_chat_worker_t  *w = ngx_http_chat_worker();

        for (const auto &e : events) {
            if (e.json.empty()) {
                continue;
            }

            if (w && w->redis && w->redis->connected()) {
                chat::events::Event  copy = e;

                w->redis->command({"PUBLISH", "chat:events",
                                   chat::events::encode(e)},
                    [copy](chat::Result<chat::redis::Reply> res) {
                        if (!res.ok()) {
                            ngx_http_chat_dispatch(copy);
                        }
                    });
                continue;
            }

            /* no Redis: this worker's sockets now, the others via the ring */
            ngx_http_chat_dispatch(e);

            if (w && w->redis == NULL) {
                ngx_http_chat_main_conf_t  *cmcf;

                cmcf = static_cast<ngx_http_chat_main_conf_t *>(
                    ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                                        ngx_http_chat_module));
                ngx_http_chat_ring_put(cmcf ? cmcf->zone : NULL, e);
            }
        }

    } catch (const std::exception &e) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "chat: publishing an event failed: %s", e.what());
    }
}


/*
 * Conversations changed as a side effect of a write (assigned when an agent
 * came online or a slot freed, requeued by the sweep): read each once and
 * publish its events, so waiting customers hear it at once.
 */
void
ngx_http_chat_publish_side_effects(const std::vector<std::string> &ids)
    noexcept
{
    ngx_http_chat_worker_t  *w = ngx_http_chat_worker();

    if (w == NULL || w->pg == NULL) {
        return;
    }

    try {
        for (const auto &id : ids) {
            w->pg->query("SELECT chat_conversation_event_json($1::uuid)::text",
                         {id},
                [](chat::Result<chat::pg::QueryResult> res) {
                    if (res.ok() && res.value().rows() == 1
                        && !res.value().is_null(0, 0))
                    {
                        ngx_http_chat_publish(chat::events::from_answer(
                                                  res.value().get(0, 0)));
                    }
                });
        }

    } catch (const std::exception &e) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "chat: publishing side effects failed: %s", e.what());
    }
}


/* an event reached this worker: hand it to the sockets that should see it */
void
ngx_http_chat_dispatch(const chat::events::Event &e) noexcept
{
    std::vector<ngx_http_chat_socket_t *>  all;

    try {
        for (auto &s : ngx_http_chat_sockets) {
            all.push_back(s.get());
        }

        for (auto *s : all) {
            if (s->closing) {
                continue;
            }

            if (!s->agent && s->replaying) {
                if (s->pending.size() >= NGX_HTTP_CHAT_WS_PENDING_MAX) {
                    ngx_http_chat_ws_close(s, chat::ws::CloseCode::internal,
                                           "overloaded; reconnect");
                    continue;
                }

                s->pending.push_back(e);
                continue;
            }

            ngx_http_chat_ws_deliver(s, e);
        }

    } catch (...) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "chat: dispatching an event failed");
    }
}


static bool
ngx_http_chat_ws_own_echo(ngx_http_chat_socket_t *s,
    const chat::events::Event &e)
{
    if (e.type != "typing" && e.type != "read") {
        return false;
    }

    std::string_view  mine = s->agent ? "\"sender_type\":\"agent\""
                                      : "\"sender_type\":\"customer\"";

    return e.json.find(mine) != std::string::npos;
}


static void
ngx_http_chat_ws_deliver(ngx_http_chat_socket_t *s,
    const chat::events::Event &e)
{
    if (ngx_http_chat_ws_own_echo(s, e)) {
        return;
    }

    if (!s->agent) {
        if (e.conversation_id.empty() || e.conversation_id != s->conversation_id) {
            return;
        }

        if (e.type == "message.created") {
            if (e.seq <= s->last_seq) {
                return;        /* replayed already, or delivered twice */
            }

            s->last_seq = e.seq;
        }

        ngx_http_chat_ws_send(s, chat::ws::frame_text(e.json));
        return;
    }

    /* agents: their conversations and the queue; supervisors/admins: all */
    if (s->principal.empty()) {
        return;                          /* not authenticated yet */
    }

    if (s->role == "agent" && !e.conversation_id.empty()
        && !e.assigned_agent_id.empty() && e.assigned_agent_id != s->principal)
    {
        return;
    }

    ngx_http_chat_ws_send(s, chat::ws::frame_text(e.json));
}


static void
ngx_http_chat_ws_frame(ngx_http_chat_socket_t *s, const chat::ws::Message &m)
{
    ngx_http_chat_worker_t  *w = ngx_http_chat_worker();

    switch (m.opcode) {
    case chat::ws::Opcode::ping:
        ngx_http_chat_ws_send(s, chat::ws::frame_pong(m.payload));
        return;

    case chat::ws::Opcode::pong:
        return;

    case chat::ws::Opcode::close:
        ngx_http_chat_ws_close(s, chat::ws::CloseCode::normal, "");
        return;

    case chat::ws::Opcode::binary:
        ngx_http_chat_ws_close(s, chat::ws::CloseCode::unsupported,
                               "text frames only");
        return;

    default:
        break;
    }

    auto v = chat::json::parse(m.payload);
    const std::string *type = v.ok() ? v.value().find_string("type") : NULL;

    if (type == NULL) {
        ngx_http_chat_ws_send(s, chat::ws::frame_text(
            "{\"type\":\"error\",\"data\":{\"code\":\"invalid_json\","
            "\"message\":\"expected a JSON object with a type\"}}"));
        return;
    }

    if (*type == "ping") {
        ngx_http_chat_ws_send(s, chat::ws::frame_text("{\"type\":\"pong\"}"));
        return;
    }

    std::string  conv = s->conversation_id;
    std::string  assigned = s->assigned_agent_id;

    if (s->agent) {
        const std::string  *c = v.value().find_string("conversation_id");

        if (c == NULL) {
            return;
        }

        conv = *c;
        assigned = s->principal;
    }

    if (*type == "typing") {
        auto  on = v.value().find("typing");

        ngx_http_chat_publish({chat::events::typing(conv, assigned,
                                   s->agent ? "agent" : "customer",
                                   on && on->as_bool().value_or(false))});
        return;
    }

    if (*type == "read" && w) {
        auto up = v.value().find_int("up_to_seq");

        if (!up) {
            return;
        }

        std::string  body = "{\"up_to_seq\":" + std::to_string(*up) + "}";
        chat::events::Event  ev = chat::events::read(conv, assigned,
                                       s->agent ? "agent" : "customer", *up);

        if (s->agent && w->agent) {
            w->agent->read(s->who, conv, body, [ev](auto res) {
                if (res.ok()) {
                    ngx_http_chat_publish({ev});
                }
            });

        } else if (!s->agent && w->customer) {
            w->customer->mark_read(s->principal, body, [](auto res) {
                if (res.ok()) {
                    ngx_http_chat_publish(res.value().events);
                }
            });
        }
    }
}


static void
ngx_http_chat_ws_feed(ngx_http_chat_socket_t *s, std::string_view bytes)
{
    auto outcome = s->parser.feed(bytes);

    s->last_seen = ngx_current_msec;

    ngx_http_request_t  *r = s->r;

    for (const auto &m : outcome.messages) {
        if (s->closing) {
            return;
        }

        ngx_http_chat_ws_frame(s, m);

        if (ngx_http_chat_ws_socket(r) == NULL) {
            return;                      /* closed and freed meanwhile */
        }
    }

    if (outcome.fail) {
        ngx_http_chat_ws_close(s, *outcome.fail, outcome.reason);
    }
}


static void
ngx_http_chat_ws_read(ngx_http_request_t *r)
{
    u_char                   buf[8192];
    ssize_t                  n;
    ngx_connection_t        *c = r->connection;
    ngx_http_chat_socket_t  *s = ngx_http_chat_ws_socket(r);

    if (s == NULL) {
        return;
    }

    try {
        /* frames the client sent right behind its handshake */
        if (r->header_in && r->header_in->pos < r->header_in->last) {
            std::string_view  early((char *) r->header_in->pos,
                                    r->header_in->last - r->header_in->pos);
            r->header_in->pos = r->header_in->last;
            ngx_http_chat_ws_feed(s, early);

            if (ngx_http_chat_ws_socket(r) == NULL) {
                return;
            }
        }

        for ( ;; ) {
            n = c->recv(c, buf, sizeof(buf));

            if (n == NGX_AGAIN) {
                break;
            }

            if (n == 0 || n == NGX_ERROR) {
                ngx_http_chat_ws_finalize(s);
                return;
            }

            if (!s->closing) {
                ngx_http_chat_ws_feed(s, std::string_view((char *) buf, n));
            }

            /* the socket may be gone after a close */
            if (ngx_http_chat_ws_socket(r) == NULL) {
                return;
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


/* the customer's replay: every message after SEQ, then the live events */
static void
ngx_http_chat_ws_replay(ngx_http_chat_socket_t *s)
{
    ngx_http_chat_worker_t  *w = ngx_http_chat_worker();
    ngx_http_request_t      *r = s->r;

    w->customer->conversation(s->principal, s->last_seq, 200,
        [r](chat::Result<chat::customer::Answer> res) {
            ngx_http_chat_socket_t  *s = ngx_http_chat_ws_socket(r);

            if (s == NULL || s->closing) {
                return;
            }

            if (!res.ok()) {
                ngx_http_chat_ws_close(s, chat::ws::CloseCode::internal,
                                       res.error().message);
                return;
            }

            auto events = chat::events::from_answer(res.value().body);
            std::int64_t  last = 0, total = 0;

            for (auto &e : events) {
                if (e.type == "conversation.updated") {
                    s->conversation_id = e.conversation_id;
                    s->assigned_agent_id = e.assigned_agent_id;

                    auto v = chat::json::parse(e.json);
                    if (v.ok() && v.value().find("data")) {
                        total = v.value().find("data")->find_int("last_seq")
                                    .value_or(0);
                    }
                }
            }

            for (auto &e : events) {
                if (e.type == "message.created") {
                    last = e.seq;
                }

                ngx_http_chat_ws_deliver(s, e);

                if (ngx_http_chat_ws_socket(r) == NULL) {
                    return;
                }
            }

            if (last && last < total) {
                ngx_http_chat_ws_replay(s);       /* the next page */
                return;
            }

            s->replaying = false;

            auto pending = std::move(s->pending);

            for (auto &e : pending) {
                ngx_http_chat_ws_deliver(s, e);
            }
        });
}


/* GET /v1/ws and /v1/agent/ws */
ngx_int_t
ngx_http_chat_ws_handler(ngx_http_request_t *r, bool agent)
{
    ngx_str_t                     arg;
    ngx_table_elt_t              *h;
    ngx_pool_cleanup_t           *cln;
    ngx_http_chat_worker_t       *w = ngx_http_chat_worker();
    ngx_http_chat_credentials_t   cr;

    if (r->method != NGX_HTTP_GET) {
        return ngx_http_chat_send_error(r, chat::Errc::method_not_allowed,
                                        "method not allowed");
    }

    std::string_view  upgrade = ngx_http_chat_header(r, "Upgrade");
    std::string_view  key = ngx_http_chat_header(r, "Sec-WebSocket-Key");
    std::string_view  version = ngx_http_chat_header(r, "Sec-WebSocket-Version");

    if (r->http_version != NGX_HTTP_VERSION_11 || upgrade.size() != 9
        || ngx_strncasecmp((u_char *) upgrade.data(), (u_char *) "websocket", 9)
        || version != "13" || key.empty())
    {
        return ngx_http_chat_send_error(r, chat::Errc::bad_request,
                   "expected a WebSocket upgrade (HTTP/1.1, version 13)");
    }

    auto accept = chat::ws::accept_key(key);
    if (!accept.ok()) {
        return ngx_http_chat_send_error(r, chat::Errc::bad_request,
                                        accept.error().message);
    }

    if (w == NULL || w->customer == NULL) {
        return ngx_http_chat_send_error(r, chat::Errc::unavailable,
                                        "chat_postgres is not configured");
    }

    cr = ngx_http_chat_credentials(r, agent ? "chat_agent" : "chat_session",
                                   ngx_http_chat_token_or_url);

    auto s = std::make_unique<ngx_http_chat_socket_t>();

    ngx_http_chat_main_conf_t  *cmcf = static_cast<ngx_http_chat_main_conf_t *>(
        ngx_http_get_module_main_conf(r, ngx_http_chat_module));

    s->parser = chat::ws::Parser(chat::ws::Limits{cmcf->ws_max_message,
                                                  cmcf->ws_max_message});
    s->r = r;
    s->agent = agent;
    s->last_seen = ngx_current_msec;
    s->last_ping = ngx_current_msec;

    if (!agent) {
        auto sid = w->customer->authenticate(cr.token);

        if (!sid.ok()) {
            return ngx_http_chat_send_error(r, chat::Errc::unauthorized,
                                            "invalid or missing session token");
        }

        s->principal = sid.value();

        if (ngx_http_arg(r, (u_char *) "after", 5, &arg) == NGX_OK) {
            auto  n = chat::input::parse_seq(ngx_http_chat_sv(arg));

            if (!n) {
                return ngx_http_chat_send_error(r, chat::Errc::validation,
                           "after must be an integer between 0 and 2147483647");
            }

            s->last_seq = *n;
        }
    }

    /* the 101 answer */
    r->headers_out.status = NGX_HTTP_SWITCHING_PROTOCOLS;
    ngx_str_set(&r->headers_out.status_line, "101 Switching Protocols");
    r->headers_out.content_length_n = -1;
    r->header_only = 1;
    r->keepalive = 0;

    h = static_cast<ngx_table_elt_t *>(ngx_list_push(&r->headers_out.headers));
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Upgrade");
    ngx_str_set(&h->value, "websocket");

    h = static_cast<ngx_table_elt_t *>(ngx_list_push(&r->headers_out.headers));
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Sec-WebSocket-Accept");
    h->value.len = accept.value().size();
    h->value.data = static_cast<u_char *>(ngx_pnalloc(r->pool, h->value.len));
    if (h->value.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(h->value.data, accept.value().data(), h->value.len);

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_chat_ctx_t  *ctx = ngx_http_chat_ctx(r);
    if (ctx) {
        ctx->own_response = 1;
    }

    if (ngx_http_send_header(r) == NGX_ERROR) {
        return NGX_ERROR;
    }

    auto *raw = s.get();

    cln->handler = ngx_http_chat_ws_cleanup;
    cln->data = raw;

    ngx_http_chat_sockets.push_back(std::move(s));

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "chat: websocket open (%s)", agent ? "agent" : "customer");

    r->main->count++;
    (void) ngx_http_chat_park(r);   /* keeps an exiting worker; the pool
                                       cleanup ends it */

    r->read_event_handler = ngx_http_chat_ws_read;
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

    /*
     * Everything that may close the socket runs from the loop, after this
     * handler returned: read what the client sent behind its handshake.
     */
    ngx_post_event(r->connection->read, &ngx_posted_events);

    if (agent) {
        w->agent->authenticate(cr.token,
            [r](chat::Result<chat::agent::Principal> p) {
                ngx_http_chat_socket_t  *s = ngx_http_chat_ws_socket(r);

                if (s == NULL) {
                    return;
                }

                if (!p.ok()) {
                    ngx_http_chat_ws_close(s, chat::ws::CloseCode::policy,
                                           "unauthorized");
                    return;
                }

                s->who = p.value();
                s->principal = p.value().agent_id;
                s->role = p.value().role;
                s->replaying = false;
            });

        return NGX_DONE;
    }

    ngx_http_chat_ws_replay(raw);

    return NGX_DONE;
}
