// What a WebSocket session asks of the rest of the worker: the use cases it calls
// (token check, replay, write access, read, standing) and the one place that carries out
// what they decided (the cache effect, the events, the side effects).
//
// chat::ws::Session depends on this narrow interface only, so its rules are tested with
// a fake; ServiceBackend is the real one, a thin adapter over customer::Service and
// agent::Service (which own the SQL) and the host's function that applies an Outcome's
// effects (the same one that applies a REST request's).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "chat/agent.h"
#include "chat/customer.h"
#include "chat/events.h"
#include "chat/outcome.h"
#include "chat/result.h"

namespace chat::ws {

// Every call completes `done` at most once, on the loop (possibly inside the call when
// the answer is known at once, e.g. no database is configured).
class Backend {
public:
    virtual ~Backend() = default;

    // An agent socket's token, on the socket's site (agent::Service::authenticate).
    virtual void authenticate(std::string_view token, std::string_view site,
                              std::function<void(Result<agent::Principal>)> done) = 0;
    // A page of a customer socket's replay (customer::Service::replay).
    virtual void replay(const std::string& sid, std::int64_t after, std::int64_t limit,
                        std::function<void(Result<customer::Replay>)> done) = 0;
    // May the agent write (typing, read) into the conversation (agent::Service::write_access).
    virtual void write_access(const agent::Principal& p, std::string_view conversation_id,
                              std::function<void(Result<agent::WriteAccess>)> done) = 0;
    // POST .../{id}/read of an agent, and POST /read of a customer.
    virtual void agent_read(const agent::Principal& p, std::string_view conversation_id, std::string_view body,
                            OutcomeDone done) = 0;
    virtual void customer_read(const std::string& sid, std::string_view body, std::string_view site,
                               OutcomeDone done) = 0;
    // The agents' standing now (agent::Service::standing).
    virtual void standing(const std::vector<std::string>& agent_ids,
                          std::function<void(Result<std::vector<agent::Standing>>)> done) = 0;
    // The effects of what a frame caused, carried out as a REST request's are: a read's whole
    // Outcome (its cache effect too: read_at and unread_count changed in the cached
    // conversation), a typing frame's events in an Outcome of their own. Called even when the
    // socket went away meanwhile: a read is a committed write.
    virtual void apply(Outcome outcome) = 0;
};

// The worker's services, looked up at every call: a worker that is shutting down has
// none left, and the calls then fail with Errc::unavailable.
struct Services {
    customer::Service* customer = nullptr;
    agent::Service* agent = nullptr;
};

class ServiceBackend final : public Backend {
public:
    using Lookup = std::function<Services()>;
    using Apply = std::function<void(Outcome&&)>;

    ServiceBackend(Lookup services, Apply apply);

    void authenticate(std::string_view token, std::string_view site,
                      std::function<void(Result<agent::Principal>)> done) override;
    void replay(const std::string& sid, std::int64_t after, std::int64_t limit,
                std::function<void(Result<customer::Replay>)> done) override;
    void write_access(const agent::Principal& p, std::string_view conversation_id,
                      std::function<void(Result<agent::WriteAccess>)> done) override;
    void agent_read(const agent::Principal& p, std::string_view conversation_id, std::string_view body,
                    OutcomeDone done) override;
    void customer_read(const std::string& sid, std::string_view body, std::string_view site, OutcomeDone done) override;
    void standing(const std::vector<std::string>& agent_ids,
                  std::function<void(Result<std::vector<agent::Standing>>)> done) override;
    void apply(Outcome outcome) override;

private:
    Lookup services_;
    Apply apply_;
};

}  // namespace chat::ws
