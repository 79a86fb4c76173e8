// The directives' decisions beyond their option strings (config_directives.h): resolving
// chat_postgres and chat_redis, reading chat_secret, checking the main configuration.
#include "chat/config_directives.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "chat/config_parse.h"
#include "chat/limits.h"
#include "chat/pg_conninfo.h"

namespace chat::config {

namespace {

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

}  // namespace

Result<Postgres> resolve_postgres(std::string_view conninfo,
                                  std::optional<std::string_view> pool_arg) noexcept {
    if (!pool_arg) return resolve_postgres(conninfo, std::span<const std::string_view>());
    return resolve_postgres(conninfo, std::span<const std::string_view>(&*pool_arg, 1));
}

Result<Postgres> resolve_postgres(std::string_view conninfo, std::span<const std::string_view> args) noexcept {
    try {
        Postgres pg;
        bool pool_given = false, prepare_given = false;
        for (std::string_view arg : args) {
            bool prepare = arg.starts_with("prepare=");
            bool& given = prepare ? prepare_given : pool_given;
            if (given) return make_error(Errc::validation, "parameter " + quoted(arg) + " is duplicate");
            given = true;
            auto n = prepare ? parse_pg_prepare(arg) : parse_pg_pool(arg);
            if (!n.ok()) return n.error();
            (prepare ? pg.prepared : pg.pool) = n.value();
        }
        auto resolved = pg::resolve_conninfo(conninfo);
        if (!resolved.ok()) {
            return make_error(resolved.error().code,
                              "invalid chat_postgres conninfo: " + resolved.error().message);
        }
        pg.conninfo = std::move(resolved).value();
        return pg;
    } catch (const std::exception& e) {
        return make_error(Errc::internal, std::string("chat_postgres: ") + e.what());
    }
}

Result<redis::Endpoint> resolve_redis(std::string_view host_port) noexcept {
    try {
        auto ep = redis::resolve_endpoint(host_port);
        if (!ep.ok()) {
            return make_error(ep.error().code, "invalid chat_redis address " + quoted(host_port) +
                                                   ": " + ep.error().message);
        }
        return ep;
    } catch (const std::exception& e) {
        return make_error(Errc::internal, std::string("chat_redis: ") + e.what());
    }
}

Result<std::string> read_secret(std::string_view path) noexcept {
    try {
        std::string name(path);
        std::ifstream in(name, std::ios::binary);
        if (!in) {
            // the errno suffix as ngx_conf_log_error writes it: " (2: No such file ...)"
            int err = errno;
            return make_error(Errc::not_found, "cannot read chat_secret file " + quoted(path) +
                                                   " (" + std::to_string(err) + ": " +
                                                   std::strerror(err) + ")");
        }
        std::ostringstream buf;
        buf << in.rdbuf();
        auto key = parse_secret(buf.str());
        if (!key.ok()) {
            return make_error(key.error().code,
                              "chat_secret file " + quoted(path) + " " + key.error().message);
        }
        return key;
    } catch (const std::exception& e) {
        return make_error(Errc::internal, std::string("chat_secret: ") + e.what());
    }
}

Result<void> check_main(const MainConf& conf) noexcept {
    if (auto r = check_range("chat_history", limits::kHistory, conf.history); !r.ok()) return r;
    if (auto r = check_range("chat_message_max", limits::kMessageMax, conf.message_max); !r.ok())
        return r;
    if (auto r = check_ws_max_message(conf.ws_max_message); !r.ok()) return r;
    if (conf.postgres && !conf.secret) {
        return Error{Errc::validation,
                     "chat_postgres needs chat_secret (the key that signs session tokens)"};
    }
    return {};
}

}  // namespace chat::config
