// chat::ws::ServiceBackend: a WebSocket session's calls, passed on to the worker's services.
#include "chat/ws_backend.h"

#include <utility>

namespace chat::ws {

namespace {

Error unavailable() { return Error{Errc::unavailable, "chat_postgres is not configured"}; }

}  // namespace

ServiceBackend::ServiceBackend(Lookup services, Apply apply)
    : services_(std::move(services)), apply_(std::move(apply)) {}

void ServiceBackend::authenticate(std::string_view token, std::string_view site,
                                  std::function<void(Result<agent::Principal>)> done) {
    if (agent::Service* a = services_().agent) return a->authenticate(token, site, std::move(done));
    done(unavailable());
}

void ServiceBackend::replay(const std::string& sid, std::int64_t after, std::int64_t limit,
                            std::function<void(Result<customer::Replay>)> done) {
    if (customer::Service* c = services_().customer) return c->replay(sid, after, limit, std::move(done));
    done(unavailable());
}

void ServiceBackend::write_access(const agent::Principal& p, std::string_view conversation_id,
                                  std::function<void(Result<agent::WriteAccess>)> done) {
    if (agent::Service* a = services_().agent) return a->write_access(p, conversation_id, std::move(done));
    done(unavailable());
}

void ServiceBackend::agent_read(const agent::Principal& p, std::string_view conversation_id, std::string_view body,
                                OutcomeDone done) {
    if (agent::Service* a = services_().agent) return a->read(p, conversation_id, body, std::move(done));
    done(unavailable());
}

void ServiceBackend::customer_read(const std::string& sid, std::string_view body, std::string_view site,
                                   OutcomeDone done) {
    if (customer::Service* c = services_().customer) return c->mark_read(sid, body, site, std::move(done));
    done(unavailable());
}

void ServiceBackend::standing(const std::vector<std::string>& agent_ids,
                              std::function<void(Result<std::vector<agent::Standing>>)> done) {
    if (agent::Service* a = services_().agent) return a->standing(agent_ids, std::move(done));
    done(unavailable());
}

void ServiceBackend::apply(Outcome outcome) {
    if (apply_) apply_(std::move(outcome));
}

}  // namespace chat::ws
