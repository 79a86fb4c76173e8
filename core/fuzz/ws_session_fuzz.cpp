// libFuzzer target: a WebSocket session (customer and agent) fed arbitrary client bytes never
// crashes, sends nothing after it asked to close, and handles nothing before it is authenticated.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "chat/ws_session.h"

namespace {

struct Transport : chat::ws::Transport {
    bool is_closing = false;
    std::size_t sent = 0;
    void send(std::string) override {
        if (is_closing) std::abort();  // the session checks closing() before it sends
        sent++;
    }
    void close(chat::ws::CloseCode, std::string_view) override { is_closing = true; }
    bool closing() const override { return is_closing; }
    void start_reading() override {}
};

// Answers every call at once: the agent stands, may write everywhere, every read succeeds.
struct Backend : chat::ws::Backend {
    bool stand = true;
    std::size_t applied = 0;  // outcomes handed to the host (typing, read)
    void authenticate(std::string_view, std::string_view,
                      std::function<void(chat::Result<chat::agent::Principal>)> done) override {
        if (!stand) return;  // never answered: the socket stays unauthenticated
        chat::agent::Principal p;
        p.agent_id = "a1";
        p.role = "agent";
        done(p);
    }
    void replay(const std::string&, std::int64_t, std::int64_t,
                std::function<void(chat::Result<chat::customer::Replay>)> done) override {
        done(chat::customer::Replay{});
    }
    void write_access(const chat::agent::Principal&, std::string_view,
                      std::function<void(chat::Result<chat::agent::WriteAccess>)> done) override {
        done(chat::agent::WriteAccess{true, "agent", "a1"});
    }
    void agent_read(const chat::agent::Principal&, std::string_view, std::string_view,
                    chat::OutcomeDone done) override {
        done(chat::Outcome{});
    }
    void customer_read(const std::string&, std::string_view, std::string_view, chat::OutcomeDone done) override {
        done(chat::Outcome{});
    }
    void standing(const std::vector<std::string>&,
                  std::function<void(chat::Result<std::vector<chat::agent::Standing>>)>) override {}
    void apply(chat::Outcome) override { applied++; }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    // Byte 0: which session, whether an agent's token stands, and the clock's step.
    const std::uint8_t mode = data[0];
    const std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);

    Transport t;
    Backend b;
    b.stand = (mode & 2) != 0;
    chat::ws::SessionLimits lim;
    lim.frames = chat::ws::Limits{256, 1024};
    auto s = (mode & 1) ? chat::ws::Session::agent(t, b, lim) : chat::ws::Session::customer(t, b, "sid", 0, lim);
    s->start("token");

    std::uint64_t now = 0;
    for (std::size_t at = 0; at < in.size(); at += 7) {
        s->on_bytes(in.substr(at, 7), now);
        now += mode >> 2;
    }
    if (!s->authenticated() && (t.sent || b.applied)) std::abort();
    return 0;
}
