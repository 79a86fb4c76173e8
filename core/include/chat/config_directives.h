// The directives' decisions beyond their option strings: chat_postgres and chat_redis resolved
// once at configuration time (in the master: a worker never resolves a name), chat_secret read
// from its file, and the checks once every main directive is read. Each error's message is
// the whole line the module logs with ngx_conf_log_error; nothing here throws.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "chat/limits.h"
#include "chat/redis_client.h"
#include "chat/result.h"

namespace chat::config {

// chat_postgres "conninfo" [pool=N] [prepare=N]: the conninfo with its host names resolved, the
// pool size (limits::kPgPoolDefault when not given) and the statements each connection keeps
// prepared (limits::kPgPreparedDefault). Errors: parse_pg_pool's or parse_pg_prepare's, a
// parameter given twice, or "invalid chat_postgres conninfo: <why>".
struct Postgres {
    std::string conninfo;
    std::int64_t pool = limits::kPgPoolDefault;
    std::int64_t prepared = limits::kPgPreparedDefault;
};
Result<Postgres> resolve_postgres(std::string_view conninfo, std::span<const std::string_view> args) noexcept;
// The same with at most pool=N.
Result<Postgres> resolve_postgres(std::string_view conninfo,
                                  std::optional<std::string_view> pool_arg) noexcept;

// chat_redis HOST[:PORT] (port 6379 by default), a name resolved to its address. Error:
// invalid chat_redis address "<arg>": <why>.
Result<redis::Endpoint> resolve_redis(std::string_view host_port) noexcept;

// chat_secret FILE's key (parse_secret). Errors, naming the file and never its bytes:
// cannot read chat_secret file "<path>" (<errno>: <strerror>), or chat_secret file "<path>"
// holds N bytes, at least 32 are needed.
Result<std::string> read_secret(std::string_view path) noexcept;

// What the main configuration must hold once every directive is read, in this order:
// chat_history, chat_message_max and chat_ws_max_message in their ranges, and chat_secret
// given whenever chat_postgres is.
struct MainConf {
    std::int64_t history = 0;
    std::int64_t message_max = 0;
    std::int64_t ws_max_message = 0;
    bool postgres = false;
    bool secret = false;
};
Result<void> check_main(const MainConf& conf) noexcept;

}  // namespace chat::config
