// What a WebSocket session asks of the rest of the worker: the use cases it calls
// (token check, replay, write access, read, standing) and the event bus it publishes on.
//
// chat::ws::Session depends on this narrow interface only, so its rules are tested with
// a fake; ServiceBackend is the real one, a thin adapter over customer::Service and
// agent::Service (which own the SQL) and the host's publish function.
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
    // Events raised by the session (typing, read): to every socket that should hear them.
    virtual void publish(const std::vector<events::Event>& events) = 0;
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
    using Publish = std::function<void(const std::vector<events::Event>&)>;

    ServiceBackend(Lookup services, Publish publish);

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
    void publish(const std::vector<events::Event>& events) override;

private:
    Lookup services_;
    Publish publish_;
};

}  // namespace chat::ws
