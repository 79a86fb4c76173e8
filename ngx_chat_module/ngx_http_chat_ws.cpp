/*
 * WebSockets of API.md: /v1/ws (customer, replaying every event after
 * ?after=SEQ first) and /v1/agent/ws (agent). The handshake (with its Origin
 * check), the frame I/O on the request's connection, a bounded outbound queue,
 * per-socket frame budgets, pings, close timeouts, the periodic re-check of
 * agents' standing, and delivery of the worker's events to the sockets that
 * should see them. Frames are parsed by core (chat::ws); events and who may
 * see them are core's too (chat::events).
 *
 * Socket lifetime, the invariants that make it hard to get wrong:
 *
 *  - every socket has a 64-bit id that is never reused in the worker; async
 *    callbacks (Postgres answers, the token check) capture the id, never the
 *    socket or the request, and look it up when they run: a socket that went
 *    away, or a later one that got the same memory, is never touched;
 *  - a socket is freed only from nginx's side (the request pool's cleanup),
 *    and this file asks for that only through a posted event
 *    (ngx_http_chat_ws_finalize): no send, deliver, dispatch, read or tick
 *    frees a socket under its caller's feet, so a socket pointer obtained in
 *    an event handler stays valid until that handler returns. Loops that
 *    send check s->closing (set by every close and by finalize) instead;
 *  - nothing is read from an agent socket before its token is verified, and
 *    every client frame spends from the socket's frame budget first.
 */

#include "ngx_http_chat.h"

#include <algorithm>
#include <deque>
#include <functional>
#include <memory>
#include <unordered_map>

#include "chat/agent.h"
#include "chat/customer.h"
#include "chat/events.h"
#include "chat/input.h"
#include "chat/json.h"
#include "chat/origin.h"
#include "chat/token_bucket.h"
#include "chat/ws.h"


#define NGX_HTTP_CHAT_WS_OUT_MAX      (1024 * 1024)   /* slow consumer bound */
#define NGX_HTTP_CHAT_WS_PENDING_MAX  1000            /* events during replay */
#define NGX_HTTP_CHAT_WS_PING         30000
#define NGX_HTTP_CHAT_WS_DEAD         75000
#define NGX_HTTP_CHAT_WS_CLOSE_WAIT   5000    /* closing longer: finalize */
#define NGX_HTTP_CHAT_WS_RECHECK      2000    /* agents' standing re-read */
#define NGX_HTTP_CHAT_WS_GRANT_TTL    2000    /* cached write access */
#define NGX_HTTP_CHAT_WS_GRANTS       16

/* client frames: all of them, and typing (excess typing is dropped) */
#define NGX_HTTP_CHAT_WS_FRAMES_RATE  20
#define NGX_HTTP_CHAT_WS_FRAMES_BURST 60
#define NGX_HTTP_CHAT_WS_TYPING_RATE  3
#define NGX_HTTP_CHAT_WS_TYPING_BURST 3

/* API.md: a socket whose agent's token or role no longer stands */
static const chat::ws::CloseCode  ngx_http_chat_ws_revoked =
    static_cast<chat::ws::CloseCode>(4401);


/* an agent's answer to "may I write into this conversation", for a while */
struct ngx_http_chat_ws_grant_t {
    std::string                        conversation_id;
    chat::agent::WriteAccess           access;
    ngx_msec_t                         until;
};


struct ngx_http_chat_socket_t {
    uint64_t                           id = 0;
    ngx_http_request_t                *r = NULL;
    bool                               agent = false;
    bool                               authenticated = false;
    uint64_t                           auth_gen = 0;
    std::string                        principal;     /* sid or agent id */
    chat::agent::Principal             who;           /* agents */
    std::string                        conversation_id;    /* customers */
    std::string                        assigned_agent_id;  /* customers */
    std::string                        status;             /* customers */
    std::int64_t                       last_seq = 0;
    bool                               replaying = true;
    bool                               closing = false;
    bool                               finalizing = false;
    ngx_msec_t                         closing_since = 0;
    std::vector<chat::events::Event>   pending;
    chat::ws::Parser                   parser;
    std::deque<std::string>            out;
    size_t                             out_off = 0;
    size_t                             out_bytes = 0;
    ngx_msec_t                         last_seen = 0;
    ngx_msec_t                         last_ping = 0;
    chat::TokenBucket                  frames{NGX_HTTP_CHAT_WS_FRAMES_RATE,
                                              NGX_HTTP_CHAT_WS_FRAMES_BURST};
    chat::TokenBucket                  typing{NGX_HTTP_CHAT_WS_TYPING_RATE,
                                              NGX_HTTP_CHAT_WS_TYPING_BURST};
    std::vector<ngx_http_chat_ws_grant_t>  grants;
    ngx_event_t                        finalize_ev{};
};


/* the worker's sockets by id, and by request for nginx's event handlers */
static std::unordered_map<uint64_t, std::unique_ptr<ngx_http_chat_socket_t>>
    ngx_http_chat_sockets;
static std::unordered_map<ngx_http_request_t *, ngx_http_chat_socket_t *>
    ngx_http_chat_socket_of;
static uint64_t     ngx_http_chat_ws_last_id;
static uint64_t     ngx_http_chat_ws_auth_gen;
static ngx_event_t  ngx_http_chat_ws_tick_ev;
static ngx_msec_t   ngx_http_chat_ws_last_recheck;
static bool         ngx_http_chat_ws_rechecking;


static void ngx_http_chat_ws_read(ngx_http_request_t *r);
static void ngx_http_chat_ws_write(ngx_http_request_t *r);
static void ngx_http_chat_ws_flush(ngx_http_chat_socket_t *s);
static void ngx_http_chat_ws_close(ngx_http_chat_socket_t *s,
    chat::ws::CloseCode code, std::string_view reason);
static void ngx_http_chat_ws_deliver(ngx_http_chat_socket_t *s,
    const chat::events::Event &e);
static void ngx_http_chat_ws_recheck(void);
static void ngx_http_chat_ws_finalize(ngx_http_chat_socket_t *s);


ngx_uint_t
ngx_http_chat_ws_count(void)
{
    return ngx_http_chat_sockets.size();
}


/* a live socket by id: NULL once it is gone or being finalized */
static ngx_http_chat_socket_t *
ngx_http_chat_ws_find(uint64_t id)
{
    auto it = ngx_http_chat_sockets.find(id);

    if (it == ngx_http_chat_sockets.end() || it->second->finalizing) {
        return NULL;
    }

    return it->second.get();
}


static ngx_http_chat_socket_t *
ngx_http_chat_ws_socket(ngx_http_request_t *r)
{
    auto it = ngx_http_chat_socket_of.find(r);

    if (it == ngx_http_chat_socket_of.end() || it->second->finalizing) {
        return NULL;
    }

    return it->second;
}


/*
 * One non-cancelable timer per worker while sockets are open: pings idle
 * peers, drops dead ones, finalizes sockets whose close did not get through
 * within NGX_HTTP_CHAT_WS_CLOSE_WAIT (a peer that stops reading must not pin
 * an old worker after a reload), on a graceful shutdown (reload) closes every
 * socket with 1001, and every NGX_HTTP_CHAT_WS_RECHECK re-reads the standing
 * of the agents with open sockets. O(sockets), no allocation but the ping.
 */
static void
ngx_http_chat_ws_tick(ngx_event_t *ev)
{
    bool  agents = false;

    for (auto &it : ngx_http_chat_sockets) {
        ngx_http_chat_socket_t  *s = it.second.get();

        if (s->finalizing) {
            continue;
        }

        if (s->closing) {
            if (ngx_current_msec - s->closing_since
                >= NGX_HTTP_CHAT_WS_CLOSE_WAIT)
            {
                ngx_log_error(NGX_LOG_INFO, s->r->connection->log, 0,
                              "chat: websocket close timed out");
                ngx_http_chat_ws_finalize(s);
            }

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
            ngx_http_chat_ws_flush(s);
        }

        agents = agents || (s->agent && s->authenticated);
    }

    /* (an answer lost for 30 s no longer holds the next round back) */
    if (agents
        && (!ngx_http_chat_ws_rechecking
            || ngx_current_msec - ngx_http_chat_ws_last_recheck > 30000)
        && ngx_current_msec - ngx_http_chat_ws_last_recheck
           >= NGX_HTTP_CHAT_WS_RECHECK)
    {
        ngx_http_chat_ws_recheck();
    }

    if (!ngx_http_chat_sockets.empty()) {
        ngx_add_timer(ev, 1000);
    }
}


/* the request pool's cleanup: the one place a socket is freed */
static void
ngx_http_chat_ws_cleanup(void *data)
{
    auto      *s = static_cast<ngx_http_chat_socket_t *>(data);
    uint64_t   id = s->id;

    if (s->finalize_ev.posted) {
        ngx_delete_posted_event(&s->finalize_ev);
    }

    /* the park of the upgrade ends with the request pool's own cleanup */

    ngx_http_chat_socket_of.erase(s->r);
    ngx_http_chat_sockets.erase(id);               /* destroys s */
}


static void
ngx_http_chat_ws_finalize_handler(ngx_event_t *ev)
{
    auto                *s = static_cast<ngx_http_chat_socket_t *>(ev->data);
    ngx_http_request_t  *r = s->r;
    ngx_connection_t    *c = r->connection;

    ngx_log_error(NGX_LOG_INFO, c->log, 0, "chat: websocket closed");

    /*
     * Terminating a request whose write handler is set is done through a
     * posted request: run it now, since posted events do not run posted
     * requests by themselves. The request's cleanup frees s.
     */
    ngx_http_finalize_request(r, NGX_HTTP_CLOSE);
    ngx_http_run_posted_requests(c);
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
    s->closing = true;

    s->finalize_ev.handler = ngx_http_chat_ws_finalize_handler;
    s->finalize_ev.data = s;
    s->finalize_ev.log = s->r->connection->log;

    ngx_post_event(&s->finalize_ev, &ngx_posted_events);
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
    s->closing_since = ngx_current_msec;

    ngx_http_chat_ws_flush(s);
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
        /*
         * A slow consumer never stalls the worker: it resumes with after=.
         * A frame already partly on the wire stays, so the close frame that
         * follows it is still a valid frame.
         */
        if (s->out_off) {
            std::string  partial = std::move(s->out.front());

            s->out.clear();
            s->out.push_back(std::move(partial));
            s->out_bytes = s->out.front().size();

        } else {
            s->out.clear();
            s->out_bytes = 0;
        }

        ngx_http_chat_ws_close(s, chat::ws::CloseCode::policy,
                               "too slow; reconnect with after=");
        return;
    }

    ngx_http_chat_ws_flush(s);
}


/* writes what the socket's queue holds; never frees the socket */
static void
ngx_http_chat_ws_flush(ngx_http_chat_socket_t *s)
{
    ssize_t              n;
    ngx_http_request_t  *r = s->r;
    ngx_connection_t    *c = r->connection;

    if (s->finalizing) {
        return;
    }

    /* the 101 header may still sit in nginx's output chain */
    if (r->out) {
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


static void
ngx_http_chat_ws_write(ngx_http_request_t *r)
{
    ngx_http_chat_socket_t  *s = ngx_http_chat_ws_socket(r);

    if (s) {
        ngx_http_chat_ws_flush(s);
    }
}


/*
 * An event reached this worker: hand it to the sockets that should see it.
 * Nothing in here frees a socket (see the top of the file), so the map is
 * walked directly.
 */
void
ngx_http_chat_dispatch(const chat::events::Event &e) noexcept
{
    try {
        for (auto &it : ngx_http_chat_sockets) {
            ngx_http_chat_socket_t  *s = it.second.get();

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
            ngx_http_chat_ws_close(it.second.get(),
                                   chat::ws::CloseCode::internal, reason);
        }

    } catch (...) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "chat: closing lagging sockets failed");
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

        /* the routing facts of the customer's own typing and read frames */
        if (!e.status.empty()) {
            s->status = e.status;
            s->assigned_agent_id = e.assigned_agent_id;
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

    /* agents: what GET /agent/conversations/{id} would show them */
    if (!s->authenticated
        || !chat::events::visible_to_agent(e, s->principal, s->who.role))
    {
        return;
    }

    ngx_http_chat_ws_send(s, chat::ws::frame_text(e.json));
}


/*
 * Runs `act` once the agent's write access to a conversation is known: from
 * the socket's short-lived cache, or after asking Postgres (the callback
 * finds the socket by id; a socket gone meanwhile is skipped).
 */
typedef std::function<void(ngx_http_chat_socket_t *,
                           const chat::agent::WriteAccess &)>
    ngx_http_chat_ws_act_t;

static void
ngx_http_chat_ws_with_access(ngx_http_chat_socket_t *s,
    const std::string &conv, ngx_http_chat_ws_act_t act)
{
    ngx_http_chat_worker_t  *w = ngx_http_chat_worker();

    for (auto it = s->grants.begin(); it != s->grants.end(); ) {
        if ((ngx_msec_int_t) (it->until - ngx_current_msec) <= 0) {
            it = s->grants.erase(it);
            continue;
        }

        if (it->conversation_id == conv) {
            act(s, it->access);
            return;
        }

        ++it;
    }

    if (w == NULL || w->agent == NULL) {
        return;
    }

    w->agent->write_access(s->who, conv,
        [id = s->id, conv, act](chat::Result<chat::agent::WriteAccess> res) {
            ngx_http_chat_socket_t  *s = ngx_http_chat_ws_find(id);

            if (s == NULL || s->closing || !res.ok()) {
                return;
            }

            if (s->grants.size() >= NGX_HTTP_CHAT_WS_GRANTS) {
                s->grants.erase(s->grants.begin());
            }

            s->grants.push_back({conv, res.value(),
                                 ngx_current_msec + NGX_HTTP_CHAT_WS_GRANT_TTL});
            act(s, res.value());
        });
}


/* one client frame of an authenticated socket that had budget for it */
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

    if (*type != "typing" && *type != "read") {
        return;
    }

    std::string  conv = s->conversation_id;

    if (s->agent) {
        const std::string  *c = v.value().find_string("conversation_id");

        if (c == NULL || !chat::customer::is_uuid(*c)) {
            return;
        }

        conv = *c;
    }

    if (*type == "typing") {
        auto  on_v = v.value().find("typing");
        bool  on = on_v && on_v->as_bool().value_or(false);

        if (!s->typing.take(ngx_current_msec)) {
            return;                        /* excess typing is dropped */
        }

        if (!s->agent) {
            ngx_http_chat_publish({chat::events::typing(conv,
                                       s->assigned_agent_id, "customer", on,
                                       s->status)});
            return;
        }

        /* API.md: only into conversations the agent may write to */
        ngx_http_chat_ws_with_access(s, conv,
            [conv, on](ngx_http_chat_socket_t *,
                       const chat::agent::WriteAccess &a) {
                if (a.allowed && a.status == "agent") {
                    ngx_http_chat_publish({chat::events::typing(conv,
                                               a.assigned_agent_id, "agent",
                                               on, a.status)});
                }
            });
        return;
    }

    /* read */
    auto up = v.value().find_int("up_to_seq");

    if (!up || w == NULL) {
        return;
    }

    std::string  body = "{\"up_to_seq\":" + std::to_string(*up) + "}";

    if (s->agent && w->agent) {
        /* chat_agent_read() refuses conversations the agent may not write to */
        w->agent->read(s->who, conv, body,
            [conv, up = *up](chat::Result<chat::Outcome> res) {
                if (!res.ok()) {
                    return;
                }

                /* the conversation's agent and status, for routing */
                std::string  aid, st;

                for (const auto &e : res.value().events) {
                    if (e.type == "conversation.updated") {
                        aid = e.assigned_agent_id;
                        st = e.status;
                    }
                }

                ngx_http_chat_publish({chat::events::read(conv, aid, "agent",
                                                          up, st)});
            });

    } else if (!s->agent && w->customer) {
        w->customer->mark_read(s->principal, body, [](auto res) {
            if (res.ok()) {
                ngx_http_chat_publish(res.value().events);
            }
        });
    }
}


static void
ngx_http_chat_ws_feed(ngx_http_chat_socket_t *s, std::string_view bytes)
{
    auto outcome = s->parser.feed(bytes);

    s->last_seen = ngx_current_msec;

    for (const auto &m : outcome.messages) {
        if (s->closing) {
            return;
        }

        if (!s->frames.take(ngx_current_msec)) {
            ngx_http_chat_ws_close(s, chat::ws::CloseCode::policy,
                                   "too many frames");
            return;
        }

        ngx_http_chat_ws_frame(s, m);
    }

    if (outcome.fail) {
        ngx_http_chat_ws_close(s, *outcome.fail, outcome.reason);
    }
}


/* the read handler; armed only once the socket's token is verified */
static void
ngx_http_chat_ws_read(ngx_http_request_t *r)
{
    u_char                   buf[8192];
    ssize_t                  n;
    ngx_connection_t        *c = r->connection;
    ngx_http_chat_socket_t  *s = ngx_http_chat_ws_socket(r);

    if (s == NULL || !s->authenticated) {
        return;
    }

    try {
        /* frames the client sent right behind its handshake */
        if (r->header_in && r->header_in->pos < r->header_in->last) {
            std::string_view  early((char *) r->header_in->pos,
                                    r->header_in->last - r->header_in->pos);
            r->header_in->pos = r->header_in->last;
            ngx_http_chat_ws_feed(s, early);
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

            if (!s->closing) {
                ngx_http_chat_ws_feed(s, std::string_view((char *) buf, n));
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

    w->customer->replay(s->principal, s->last_seq, 200,
        [id = s->id](chat::Result<chat::customer::Replay> res) {
            ngx_http_chat_socket_t  *s = ngx_http_chat_ws_find(id);

            if (s == NULL || s->closing) {
                return;
            }

            if (!res.ok()) {
                ngx_http_chat_ws_close(s, chat::ws::CloseCode::internal,
                                       res.error().message);
                return;
            }

            auto          &events = res.value().events;
            std::int64_t   last = 0, total = res.value().last_seq;

            for (auto &e : events) {
                if (e.type == "conversation.updated") {
                    s->conversation_id = e.conversation_id;
                    s->assigned_agent_id = e.assigned_agent_id;
                    s->status = e.status;
                }
            }

            for (auto &e : events) {
                if (s->closing) {
                    return;
                }

                if (e.type == "message.created") {
                    last = e.seq;
                }

                ngx_http_chat_ws_deliver(s, e);
            }

            if (s->closing) {
                return;
            }

            if (last && last < total) {
                ngx_http_chat_ws_replay(s);       /* the next page */
                return;
            }

            s->replaying = false;

            auto pending = std::move(s->pending);

            s->pending.clear();

            for (auto &e : pending) {
                if (s->closing) {
                    return;
                }

                ngx_http_chat_ws_deliver(s, e);
            }
        });
}


/*
 * Re-reads the standing of every agent with an open socket in this worker,
 * in one query: a socket whose token was revoked (logout, password change),
 * whose agent was deleted or lost a role is closed with 4401; a promoted one
 * sees more from now on. Sockets authenticated after the query was sent are
 * left for the next round (the answer may predate their token).
 */
static void
ngx_http_chat_ws_recheck(void)
{
    ngx_http_chat_worker_t    *w = ngx_http_chat_worker();
    std::vector<std::string>   ids;

    if (w == NULL || w->agent == NULL) {
        return;
    }

    for (auto &it : ngx_http_chat_sockets) {
        ngx_http_chat_socket_t  *s = it.second.get();

        if (s->agent && s->authenticated && !s->closing) {
            ids.push_back(s->principal);
        }
    }

    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());

    if (ids.empty()) {
        return;
    }

    ngx_http_chat_ws_rechecking = true;
    ngx_http_chat_ws_last_recheck = ngx_current_msec;

    w->agent->standing(ids,
        [gen = ngx_http_chat_ws_auth_gen](
            chat::Result<std::vector<chat::agent::Standing>> res) {
            ngx_http_chat_ws_rechecking = false;

            if (!res.ok()) {
                return;                   /* Postgres down: next round */
            }

            std::unordered_map<std::string_view,
                               const chat::agent::Standing *>  by_id;

            for (const auto &st : res.value()) {
                by_id.emplace(st.agent_id, &st);
            }

            for (auto &it : ngx_http_chat_sockets) {
                ngx_http_chat_socket_t  *s = it.second.get();

                if (!s->agent || !s->authenticated || s->closing
                    || s->auth_gen > gen)
                {
                    continue;
                }

                auto  f = by_id.find(s->principal);
                const chat::agent::Standing  *now =
                    f == by_id.end() ? NULL : f->second;

                switch (chat::agent::recheck(s->who, now)) {

                case chat::agent::Recheck::keep:
                    break;

                case chat::agent::Recheck::promote:
                    s->who.role = now->role;
                    s->grants.clear();
                    break;

                case chat::agent::Recheck::revoke:
                    ngx_http_chat_ws_close(s, ngx_http_chat_ws_revoked,
                                           "token revoked or role changed");
                    break;
                }
            }
        });
}


/* the agent socket's token check completed */
static void
ngx_http_chat_ws_authenticated(uint64_t id,
    chat::Result<chat::agent::Principal> p)
{
    ngx_http_chat_socket_t  *s = ngx_http_chat_ws_find(id);

    if (s == NULL || s->closing) {
        return;
    }

    if (!p.ok()) {
        if (p.error().code == chat::Errc::unauthorized) {
            ngx_http_chat_ws_close(s, ngx_http_chat_ws_revoked,
                                   "unauthorized");

        } else {
            ngx_http_chat_ws_close(s, chat::ws::CloseCode::internal,
                                   "try again later");
        }

        return;
    }

    s->who = p.value();
    s->principal = p.value().agent_id;
    s->authenticated = true;
    s->auth_gen = ++ngx_http_chat_ws_auth_gen;

    /* only now is anything the client sent read */
    s->r->read_event_handler = ngx_http_chat_ws_read;
    ngx_post_event(s->r->connection->read, &ngx_posted_events);
}


/* API.md: a browser Origin must be the request's own host or listed */
static bool
ngx_http_chat_ws_origin_ok(ngx_http_request_t *r)
{
    std::string_view  origin = ngx_http_chat_header(r, "Origin");

    if (origin.empty()) {
        return true;                      /* not a browser */
    }

    ngx_http_chat_loc_conf_t  *clcf = static_cast<ngx_http_chat_loc_conf_t *>(
        ngx_http_get_module_loc_conf(r, ngx_http_chat_module));

    std::vector<std::string_view>  list;

    if (clcf->allowed_origins) {
        auto *o = static_cast<ngx_str_t *>(clcf->allowed_origins->elts);

        for (ngx_uint_t i = 0; i < clcf->allowed_origins->nelts; i++) {
            list.push_back(ngx_http_chat_sv(o[i]));
        }
    }

    std::string_view  host = r->headers_in.host
                             ? ngx_http_chat_sv(r->headers_in.host->value)
                             : std::string_view();

    return chat::origin::allowed(origin, host, list);
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

    if (!ngx_http_chat_ws_origin_ok(r)) {
        return ngx_http_chat_send_error(r, chat::Errc::forbidden,
                   "this Origin may not open a socket (chat_allowed_origins)");
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

    cr = ngx_http_chat_credentials(r,
             agent ? chat::agent::kAgentCookie : chat::customer::kSessionCookie,
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
        s->authenticated = true;

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

    auto     *raw = s.get();
    uint64_t  id = ++ngx_http_chat_ws_last_id;

    raw->id = id;

    ngx_http_chat_sockets.emplace(id, std::move(s));
    ngx_http_chat_socket_of[r] = raw;

    cln->handler = ngx_http_chat_ws_cleanup;
    cln->data = raw;

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "chat: websocket open (%s)", agent ? "agent" : "customer");

    r->main->count++;
    (void) ngx_http_chat_park(r);   /* keeps an exiting worker; the pool
                                       cleanup ends it */

    /* an agent's socket reads nothing before its token is verified */
    r->read_event_handler = agent ? ngx_http_block_reading
                                  : ngx_http_chat_ws_read;
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

    if (agent) {
        w->agent->authenticate(cr.token,
            [id](chat::Result<chat::agent::Principal> p) {
                ngx_http_chat_ws_authenticated(id, std::move(p));
            });

        return NGX_DONE;
    }

    /*
     * Everything that may close the socket runs from the loop, after this
     * handler returned: read what the client sent behind its handshake.
     */
    ngx_post_event(r->connection->read, &ngx_posted_events);

    ngx_http_chat_ws_replay(raw);

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
