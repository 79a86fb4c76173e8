// The Postgres pool: queues requests, hands them to idle connections, reconnects with backoff, fails fast when down.
//
// It also tells the operator why the database is unavailable: one log line when the
// pool goes down (with libpq's reason: refused, wrong password, timeout), one when the
// reason changes, one when it is back; never one per retry or per connection.
#include "chat/pg_pool.h"

#include <algorithm>
#include <array>
#include <deque>
#include <exception>
#include <limits>
#include <vector>

#include "pg_conn.h"

namespace chat::pg {
namespace detail {

class PoolImpl final : public ConnListener, public std::enable_shared_from_this<PoolImpl> {
public:
    PoolImpl(EventLoop& loop, PoolConfig cfg) : loop_(loop), cfg_(std::move(cfg)) {
        cfg_.size = std::max(cfg_.size, 1);
        cfg_.backoff_max_ms = std::max(cfg_.backoff_max_ms, cfg_.backoff_min_ms);
        // A name in the conninfo would make PQconnectStart resolve it synchronously.
        needs_dns_ = conninfo_needs_dns(cfg_.conninfo);
        queue_timer_ = loop_.timer([this] { guarded([this] { expire_queue(); }); });
        hold_timer_ = loop_.timer([this] { guarded([this] { pump_later(); }); });
        slots_.resize(static_cast<std::size_t>(cfg_.size));
        for (auto& s : slots_) {
            s.conn = std::make_unique<Conn>(loop_, *this, cfg_);
            Slot* sp = &s;
            s.backoff = loop_.timer([this, sp] { guarded([this, sp] { connect_slot(*sp); }); });
        }
    }

    ~PoolImpl() override { close_all(); }

    void start() {
        if (started_ || stopping_) return;
        started_ = true;
        for (auto& s : slots_) connect_slot(s);
    }

    void query(std::string sql, std::vector<Param> params, QueryCallback cb) {
        ++stats_.queries;
        Request req{std::move(sql), std::move(params), std::move(cb), loop_.now_ms(), {}, {}, {}, {}};
        try {
            submit(req);
        } catch (const std::exception& e) {
            // req is only moved from once it is safely queued; otherwise it still has its callback.
            if (req.cb) fail_later(std::move(req), make_error(Errc::internal, std::string("pg pool: ") + e.what()));
        }
    }

    // req: the item's params and its callback (item_cb or item_back_cb)
    void query_batched(std::shared_ptr<const BatchKind> kind, Request req) {
        ++stats_.queries;
        req.enqueued_ms = loop_.now_ms();
        req.batch = std::move(kind);
        try {
            if (!req.batch) return fail_later(std::move(req), make_error(Errc::internal, "pg pool: no batch kind"));
            // Text-format parameters cannot carry a NUL byte: such an item fails alone.
            for (const auto& p : req.params)
                if (p && p->find('\0') != std::string::npos)
                    return fail_later(std::move(req), make_error(Errc::bad_request, "NUL byte in query parameter"));
            submit(req);
        } catch (const std::exception& e) {
            if (req.is_item())
                fail_later(std::move(req), make_error(Errc::internal, std::string("pg pool: ") + e.what()));
        }
    }

    bool healthy() const { return any_up(); }

    PoolStats stats() const {
        PoolStats s = stats_;
        s.size = cfg_.size;
        for (const auto& sl : slots_) {
            if (sl.conn->up()) s.connected++;
            if (sl.conn->state() == Conn::State::connecting) s.connecting++;
            if (sl.conn->state() == Conn::State::busy) s.busy++;
            s.prepared += sl.conn->prepared();
            s.prepares += sl.conn->prepares();
        }
        s.queued = queue_.size();
        return s;
    }

    void shutdown() {
        if (stopping_) return;
        stopping_ = true;
        hold_timer_->cancel();
        for (auto& s : slots_) {
            s.backoff->cancel();
            s.batch_kind = nullptr;
            if (auto req = s.conn->close()) fail_later(std::move(*req), make_error(Errc::unavailable, "shutting down"));
        }
        queue_timer_->cancel();
        auto q = std::move(queue_);
        queue_.clear();
        for (auto& r : q) fail_later(std::move(r), make_error(Errc::unavailable, "shutting down"));
    }

    // ~Pool: close everything and drop callbacks still posted (they are destroyed, not called).
    void kill() noexcept {
        dead_ = true;
        close_all();
    }

    void close_all() noexcept {
        stopping_ = true;
        hold_timer_->cancel();
        for (auto& s : slots_) {
            s.backoff->cancel();
            s.batch_kind = nullptr;
            s.conn->close();
        }
        queue_timer_->cancel();
        queue_.clear();
    }

    // ConnListener
    void conn_changed(Conn& c) override {
        guarded([&] {
            Slot& s = slot_of(c);
            if (c.up()) {
                s.failures = 0;
                db_down_ = false;
                say_up();
                dispatch(false);
                return;
            }
            on_down(s);
        });
    }

    void conn_done(Conn& c, Request req, Result<QueryResult> res) override {
        guarded([&] {
            Slot& s = slot_of(c);
            s.batch_kind = nullptr;
            if (!c.up() && c.down_reason() == Conn::DownReason::timeout) ++stats_.timeouts;
            if (!req.items.empty()) {
                const std::size_t n = req.items.size();
                deliver_items(std::move(req.items), split_batch(std::move(res), n));
            } else {
                deliver(std::move(req.cb), std::move(res));
            }
            // Also when c went down: items held for its batch may take another connection now.
            dispatch(false);
            if (!c.up()) on_down(s);
        });
    }

private:
    void submit(Request& req) {
        if (stopping_) return fail_later(std::move(req), make_error(Errc::unavailable, "shutting down"));
        if (!any_up() && db_down_) return fail_later(std::move(req), unavailable());
        if (queue_.size() >= cfg_.max_queue)
            return fail_later(std::move(req), make_error(Errc::unavailable, "database queue full"));
        bool batched = static_cast<bool>(req.batch);
        queue_.push_back(std::move(req));
        // A batched item waits for the end of the loop turn (see dispatch); a plain query goes now.
        if (batched)
            pump_later();
        else
            dispatch(false);
        arm_queue_timer();
    }

    struct Slot {
        std::unique_ptr<Conn> conn;
        std::unique_ptr<Timer> backoff;
        int failures = 0;  // consecutive failed connection attempts
        bool attempted = false;
        // The kind of the batch in flight on this connection (nullptr: none), and when it was sent.
        const BatchKind* batch_kind = nullptr;
        std::uint64_t batch_sent_ms = 0;
        std::size_t batch_items = 0;
    };

    static Error unavailable() { return make_error(Errc::unavailable, "database unavailable"); }

    // Loop callbacks must not throw into the host (nginx is C).
    template <class F>
    void guarded(F&& f) noexcept {
        try {
            f();
        } catch (...) {
            ++stats_.errors;
        }
    }

    Slot& slot_of(Conn& c) {
        for (auto& s : slots_)
            if (s.conn.get() == &c) return s;
        std::terminate();  // a connection always belongs to its pool
    }

    bool any_up() const {
        for (const auto& s : slots_)
            if (s.conn->up()) return true;
        return false;
    }

    void connect_slot(Slot& s) {
        if (stopping_ || s.conn->state() != Conn::State::down) return;
        if (s.attempted) ++stats_.reconnects;
        s.attempted = true;
        if (needs_dns_) {
            on_connect_failed(s);
            return;
        }
        if (!s.conn->connect(cfg_.conninfo)) on_connect_failed(s);
    }

    void on_down(Slot& s) {
        if (stopping_) return;
        if (s.conn->down_reason() == Conn::DownReason::connect_failed) return on_connect_failed(s);
        // An established connection was lost: try again soon, then back off if that fails.
        s.failures = 0;
        s.backoff->arm(jitter(cfg_.backoff_min_ms));
    }

    void on_connect_failed(Slot& s) {
        if (stopping_) return;
        ++s.failures;
        std::uint64_t delay = cfg_.backoff_min_ms;
        for (int i = 1; i < s.failures && delay < cfg_.backoff_max_ms; ++i) delay *= 2;
        delay = std::min(delay, cfg_.backoff_max_ms);
        // Jitter in [delay/2, delay] so a fleet of workers does not reconnect in lockstep.
        s.backoff->arm(delay / 2 + jitter(delay - delay / 2));
        if (any_up()) return;
        // Nothing up and the latest attempt failed: the database is down. Waiting
        // requests would only time out; fail them now, and new ones at once.
        db_down_ = true;
        say_down(needs_dns_ ? std::string("the conninfo names a host that was not resolved beforehand")
                            : s.conn->error());
        auto q = std::move(queue_);
        queue_.clear();
        queue_timer_->cancel();
        for (auto& r : q) fail_later(std::move(r), unavailable());
    }

    // The log follows the pool's state, not its connections': down once nothing is up
    // and an attempt failed, up again when one connection is. The first up is not news.
    void say_down(const std::string& reason) {
        std::string line = one_line(reason);
        if (said_ == Said::down && said_reason_ == line) return;
        said_ = Said::down;
        said_reason_ = line;
        loop_.log(LogLevel::error, "postgres unavailable: " + line);
    }

    void say_up() {
        if (said_ == Said::down) loop_.log(LogLevel::notice, "postgres available again");
        said_ = Said::up;
        said_reason_.clear();
    }

    // libpq's messages span lines ("...failed: Connection refused\n\tIs the server
    // running..."); a log line must not.
    static std::string one_line(std::string_view msg) {
        std::string out;
        for (char c : msg) {
            bool space = c == '\n' || c == '\r' || c == '\t' || c == ' ';
            if (space && (out.empty() || out.back() == ' ')) continue;
            out.push_back(space ? ' ' : c);
        }
        while (!out.empty() && out.back() == ' ') out.pop_back();
        return out.empty() ? std::string("unknown reason") : out;
    }

    std::uint64_t jitter(std::uint64_t max) {
        if (max == 0) return 0;
        std::array<std::byte, 8> b{};
        loop_.random_bytes(b);
        std::uint64_t v = 0;
        for (auto x : b) v = (v << 8) | static_cast<std::uint64_t>(x);
        return v % (max + 1);
    }

    Conn* idle_conn() {
        for (auto& s : slots_)
            if (s.conn->state() == Conn::State::idle) return s.conn.get();
        return nullptr;
    }

    // Hands queued requests to idle connections, oldest first. A plain query goes at once.
    // Batched items go only at the end of the loop turn (turn_end: the pump posted to the loop,
    // which nginx runs from its posted events, after every ready event of this epoll_wait was
    // handled), so every item read in one turn leaves in one batch: no timer, and a lone item
    // still leaves in the turn it came in.
    // At the turn's end the items of a kind whose batch is in flight on another connection wait
    // for it (they ride its successor, a fuller call that costs Postgres less per item) instead
    // of taking an idle connection, when that batch carries batch_hold_min_items or more (the
    // pool is loaded; under light load small batches overlap instead), unless a whole batch
    // (max_items) of them is queued or that batch was sent batch_hold_ms ago or more (a slow or
    // stuck call: they go, at the latest when the hold timer says so). Its answer (or its
    // connection's loss) dispatches them.
    void dispatch(bool turn_end) {
        std::size_t i = 0;
        bool held = false;
        std::vector<const BatchKind*> waiting;  // kinds held for their batch in flight, this pass
        while (i < queue_.size()) {
            Conn* c = idle_conn();
            if (!c) break;
            const BatchKind* kind = queue_[i].batch.get();
            if (kind && !turn_end) {
                held = true;
                ++i;
                continue;
            }
            if (kind && std::find(waiting.begin(), waiting.end(), kind) != waiting.end()) {
                ++i;
                continue;
            }
            if (kind && waits_for_inflight(i)) {
                waiting.push_back(kind);
                ++i;
                continue;
            }
            Request req = std::move(queue_[i]);
            queue_.erase(queue_.begin() + static_cast<std::ptrdiff_t>(i));
            // before the turn's end only plain queries go; at its end only held kinds are skipped
            if (req.batch) req = take_batch(std::move(req));
            const BatchKind* sent = req.items.empty() ? nullptr : req.items.front().batch.get();
            std::size_t sent_items = req.items.size();  // send() moves req away
            if (auto err = c->send(req)) {
                fail_later(std::move(req), std::move(*err));
                if (!c->up()) on_down(slot_of(*c));
            } else if (sent) {
                Slot& s = slot_of(*c);
                s.batch_kind = sent;
                s.batch_sent_ms = loop_.now_ms();
                s.batch_items = sent_items;
            }
        }
        if (held) pump_later();
        if (turn_end) arm_hold_timer(waiting);
        if (queue_.empty()) queue_timer_->cancel();
    }

    // Whether the batched item at queue_[first] (the first of its kind still queued) waits for
    // its kind's batch in flight (see dispatch).
    bool waits_for_inflight(std::size_t first) {
        const BatchKind* kind = queue_[first].batch.get();
        std::uint64_t now = loop_.now_ms();
        bool inflight = false;
        for (const auto& s : slots_)
            if (s.batch_kind == kind && s.conn->state() == Conn::State::busy &&
                s.batch_items >= cfg_.batch_hold_min_items && now < s.batch_sent_ms + cfg_.batch_hold_ms)
                inflight = true;
        if (!inflight) return false;
        std::size_t cap = std::max<std::size_t>(kind->max_items, 1);
        std::size_t n = 0;
        for (std::size_t j = first; j < queue_.size() && n < cap; ++j)
            if (queue_[j].batch.get() == kind) ++n;
        return n < cap;
    }

    // While items wait for a batch in flight: wake when the first such batch turns batch_hold_ms old.
    void arm_hold_timer(const std::vector<const BatchKind*>& waiting) {
        hold_timer_->cancel();
        if (waiting.empty()) return;
        std::uint64_t now = loop_.now_ms();
        std::uint64_t due = std::numeric_limits<std::uint64_t>::max();
        for (const auto& s : slots_)
            if (s.conn->state() == Conn::State::busy && s.batch_items >= cfg_.batch_hold_min_items &&
                now < s.batch_sent_ms + cfg_.batch_hold_ms && std::find(waiting.begin(), waiting.end(), s.batch_kind) != waiting.end())
                due = std::min(due, s.batch_sent_ms + cfg_.batch_hold_ms);
        if (due == std::numeric_limits<std::uint64_t>::max()) return;
        hold_timer_->arm(due > now ? due - now : 0);
    }

    // One dispatch(turn_end) posted to the loop per turn, however many items came in it.
    void pump_later() {
        if (pump_posted_ || stopping_) return;
        pump_posted_ = true;
        std::weak_ptr<PoolImpl> self = weak_from_this();
        loop_.post([self] {
            auto alive = self.lock();
            if (!alive || alive->dead_) return;
            alive->pump_posted_ = false;
            alive->guarded([&] { alive->dispatch(true); });
        });
    }

    // The first item of a kind and every later one of the same kind still queued (up to
    // its max_items), in queue order, as the one query of a batch.
    Request take_batch(Request first) {
        const BatchKind* kind = first.batch.get();
        std::size_t cap = std::max<std::size_t>(kind->max_items, 1);
        std::vector<Request> items;
        items.reserve(std::min(cap, queue_.size() + 1));  // one allocation, not 1, 2, 4, ... 32
        items.push_back(std::move(first));
        if (cap > 1) {
            // the others stay in the queue, in order, moved up over the taken ones: no new
            // deque (its map and first block, two allocations a batch) and no copy of the rest
            auto kept = queue_.begin();
            for (auto r = queue_.begin(); r != queue_.end(); ++r) {
                if (items.size() < cap && r->batch.get() == kind) {
                    items.push_back(std::move(*r));
                } else {
                    if (kept != r) *kept = std::move(*r);
                    ++kept;
                }
            }
            queue_.erase(kept, queue_.end());
        }
        ++stats_.batches;
        stats_.batched_items += items.size();
        return make_batch(std::move(items));
    }

    void arm_queue_timer() {
        if (queue_.empty() || queue_timer_->armed()) return;
        std::uint64_t now = loop_.now_ms();
        std::uint64_t due = queue_.front().enqueued_ms + cfg_.queue_timeout_ms;
        queue_timer_->arm(due > now ? due - now : 0);
    }

    void expire_queue() {
        std::uint64_t now = loop_.now_ms();
        while (!queue_.empty() && queue_.front().enqueued_ms + cfg_.queue_timeout_ms <= now) {
            ++stats_.timeouts;
            fail_later(std::move(queue_.front()),
                       make_error(Errc::unavailable, "timed out waiting for a database connection"));
            queue_.pop_front();
        }
        arm_queue_timer();
    }

    void fail_later(Request req, Error e) {
        if (req.is_item()) return deliver_item(req, std::move(e));
        for (auto& it : req.items) deliver_item(it, e);
        if (req.cb) deliver(std::move(req.cb), std::move(e));
    }

    // An item's answer to its callback; an item_back_cb gets the item's params too (moved out).
    void deliver_item(Request& item, Result<BatchRow> res) {
        if (!res.ok()) ++stats_.errors;
        if (item.item_back_cb)
            return post_call([cb = std::move(item.item_back_cb), res = std::move(res),
                              params = std::move(item.params)]() mutable { cb(std::move(res), std::move(params)); });
        if (item.item_cb) post_call([cb = std::move(item.item_cb), res = std::move(res)]() mutable { cb(std::move(res)); });
    }

    // A batch's answers to its items' callbacks, in item order, from one task posted to the loop
    // (one closure a batch, not one an item: two allocations a batch instead of one a post). A
    // callback that throws does not keep the next from its answer; once the Pool is gone the rest
    // are destroyed, not called.
    void deliver_items(std::vector<Request> items, std::vector<Result<BatchRow>> answers) {
        if (items.size() == 1) return deliver_item(items.front(), std::move(answers.front()));
        for (const auto& a : answers)
            if (!a.ok()) ++stats_.errors;
        struct Answers {
            std::vector<Request> items;
            std::vector<Result<BatchRow>> answers;
        };
        auto all = std::make_shared<Answers>(Answers{std::move(items), std::move(answers)});
        std::weak_ptr<PoolImpl> self = weak_from_this();
        loop_.post([self, all] {
            for (std::size_t i = 0; i < all->items.size(); ++i) {
                auto alive = self.lock();
                if (!alive || alive->dead_) return;
                Request& it = all->items[i];
                try {
                    if (it.item_back_cb) {
                        const ItemBackCallback cb = std::move(it.item_back_cb);
                        cb(std::move(all->answers[i]), std::move(it.params));
                    } else if (it.item_cb) {
                        const ItemCallback cb = std::move(it.item_cb);
                        cb(std::move(all->answers[i]));
                    }
                } catch (...) {
                    // as post_call: a throwing callback is the caller's bug, not the next item's
                }
            }
        });
    }

    // call() from the loop, unless the Pool is gone by then.
    template <class Call>
    void post_call(Call call) {
        std::weak_ptr<PoolImpl> self = weak_from_this();
        loop_.post([self, call = std::move(call)]() mutable {
            auto alive = self.lock();
            if (!alive || alive->dead_) return;
            try {
                call();
            } catch (...) {
                // A throwing callback is the caller's bug; it must not unwind into the loop.
            }
        });
    }

    // Every callback goes through the loop: never inside query(), never after ~Pool.
    void deliver(QueryCallback cb, Result<QueryResult> res) {
        if (!res.ok()) ++stats_.errors;
        if (!cb) return;
        struct Pending {
            QueryCallback cb;
            Result<QueryResult> res;
        };
        // std::function needs a copyable closure; QueryResult is move-only.
        auto p = std::make_shared<Pending>(Pending{std::move(cb), std::move(res)});
        std::weak_ptr<PoolImpl> self = weak_from_this();
        loop_.post([self, p] {
            auto alive = self.lock();  // keeps the impl alive if the callback destroys the Pool
            if (!alive || alive->dead_) return;
            try {
                p->cb(std::move(p->res));
            } catch (...) {
                // A throwing callback is the caller's bug; it must not unwind into the loop.
            }
        });
    }

    EventLoop& loop_;
    PoolConfig cfg_;
    bool needs_dns_ = false;
    bool dead_ = false;  // the Pool is gone: posted callbacks are dropped
    bool started_ = false;
    bool stopping_ = false;
    bool db_down_ = false;  // the last connection attempt failed and nothing is up
    // What the log last said about the database.
    enum class Said { nothing, up, down };
    Said said_ = Said::nothing;
    std::string said_reason_;
    std::vector<Slot> slots_;
    std::deque<Request> queue_;
    std::unique_ptr<Timer> queue_timer_;
    std::unique_ptr<Timer> hold_timer_;  // items wait for a batch in flight: see dispatch
    bool pump_posted_ = false;  // a dispatch(true) is posted for the end of this loop turn
    PoolStats stats_;
};

}  // namespace detail

Pool::Pool(EventLoop& loop, PoolConfig cfg) : impl_(std::make_shared<detail::PoolImpl>(loop, std::move(cfg))) {}

Pool::~Pool() { impl_->kill(); }

void Pool::start() {
    try {
        impl_->start();
    } catch (...) {
        // Connections that did not start are retried by their backoff timers.
    }
}

void Pool::query(std::string sql, std::vector<Param> params, QueryCallback cb) {
    try {
        impl_->query(std::move(sql), std::move(params), std::move(cb));
    } catch (...) {
        // Only reachable when even posting the error failed (out of memory): nothing to tell.
    }
}

namespace {

// A batch item with its callback in the Request's field for that callback's type.
template <class Callback>
void submit_item(detail::PoolImpl& impl, std::shared_ptr<const BatchKind> kind, std::vector<Param> item, Callback cb,
                 Callback detail::Request::*field) noexcept {
    try {
        detail::Request req;
        req.params = std::move(item);
        req.*field = std::move(cb);
        impl.query_batched(std::move(kind), std::move(req));
    } catch (...) {
        // As Pool::query(): only when even posting the error failed.
    }
}

}  // namespace

void Pool::query_batched(std::shared_ptr<const BatchKind> kind, std::vector<Param> item, ItemCallback cb) {
    submit_item(*impl_, std::move(kind), std::move(item), std::move(cb), &detail::Request::item_cb);
}

void Pool::query_batched(std::shared_ptr<const BatchKind> kind, std::vector<Param> item, ItemBackCallback cb) {
    submit_item(*impl_, std::move(kind), std::move(item), std::move(cb), &detail::Request::item_back_cb);
}

bool Pool::healthy() const {
    try {
        return impl_->healthy();
    } catch (...) {
        return false;
    }
}

PoolStats Pool::stats() const {
    try {
        return impl_->stats();
    } catch (...) {
        return {};
    }
}

void Pool::shutdown() {
    try {
        impl_->shutdown();
    } catch (...) {
    }
}

}  // namespace chat::pg
